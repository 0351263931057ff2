/** The test-time view sets the validation ablation compares (scripts/ablate-views.ts) and the views bench times. */
import { tenCrop, type TestTimeViews } from '../model/index.js';

export interface NamedViews {
  name: string;
  views: TestTimeViews;
}

const ten44 = tenCrop(48, 44);

export const ABLATION_VIEW_SETS: readonly NamedViews[] = [
  { name: 'none (the crop as it is)', views: { zooms: [1], mirror: false } },
  { name: 'flip', views: { zooms: [1], mirror: true } },
  { name: 'zoom 1.1', views: { zooms: [1.1], mirror: false } },
  { name: 'zoom 1.1 + flip', views: { zooms: [1.1], mirror: true } },
  { name: 'zooms 1, 1.1 + flip (shipped e62 manifest)', views: { zooms: [1, 1.1], mirror: true } },
  { name: 'zooms 1, 1.1, 1.2 + flip', views: { zooms: [1, 1.1, 1.2], mirror: true } },
  { name: 'five-crop 44/48 (no mirror)', views: { ...ten44, mirror: false } },
  { name: 'ten-crop 44/48 (corners + centre, mirrored)', views: ten44 },
  { name: 'ten-crop 42/48', views: tenCrop(48, 42) },
];
