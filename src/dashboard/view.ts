/**
 * The terminal layout (blessed + blessed-contrib), in one file. It places the panels, draws a DashboardState and
 * maps keys to actions; it holds no data of its own. Works in 80x24 (all seven bars, the whole legend) and redraws on
 * resize.
 *
 *   header: device, online/offline, devices, broker, PAUSED
 *   [ emotions entered (bar) ] [ emotion mix over time (line) ][ legend ]
 *   [ faces in view          ] [ fps, latency, health, broker/outbox, stats age; STALE when offline ]
 *   [ events and log                                             ]
 *   keys
 */
import blessed from 'blessed';
import contrib from 'blessed-contrib';
import { EMOTIONS, type Emotion } from '../model/index.js';
import { facesText, headerText, healthText, healthTitle, logLines, malformedText, SHORT, type DashboardState } from './model.js';
import { printable } from './printable.js';

export interface ViewActions {
  quit(): void;
  nextDevice(): void;
  togglePause(): void;
}

const KEYS = ' q quit   d/Tab next device   p pause';

const COLORS: Record<Emotion, string> = { angry: 'red', disgust: 'green', fear: 'magenta', happy: 'yellow', sad: 'blue', surprise: 'cyan', neutral: 'white' };

/** Width of the mix chart's legend (full emotion names, beside the chart rather than over its newest samples). */
const LEGEND_WIDTH = 10;
const BAR_X_OFFSET = 1;

/**
 * Bar geometry that fits seven bars in a canvas `width` columns wide. blessed-contrib draws bar i at
 * xOffset + i * spacing and its three-letter label and count one column right of that, so the last label ends at
 * xOffset + 6 * spacing + 4. (The fixed barWidth 3 / barSpacing 5 became spacing 6, since the library widens a
 * spacing less than width + 3, and put `neutral` past the edge of an 80-column screen's 38-column canvas.)
 */
export function barGeometry(width: number): { barWidth: number; barSpacing: number } {
  const spacing = Math.max(4, Math.floor((width - BAR_X_OFFSET - 4) / (EMOTIONS.length - 1)));
  return { barSpacing: spacing, barWidth: Math.min(6, Math.max(1, spacing - 2)) };
}

export class DashboardView {
  private readonly screen: blessed.Widgets.Screen;
  private readonly header: blessed.Widgets.BoxElement;
  private readonly bar: ReturnType<typeof contrib.bar>;
  private readonly line: ReturnType<typeof contrib.line>;
  private readonly faces: blessed.Widgets.BoxElement;
  private readonly health: blessed.Widgets.BoxElement;
  private readonly log: blessed.Widgets.BoxElement;
  private readonly status: blessed.Widgets.BoxElement;
  private destroyed = false;

  constructor(actions: ViewActions) {
    this.screen = blessed.screen({ smartCSR: true, title: 'emotion-kiosk dashboard', fullUnicode: false, autoPadding: true });
    this.header = blessed.box({ parent: this.screen, top: 0, left: 0, width: '100%', height: 1, tags: false, style: { fg: 'black', bg: 'cyan' } });
    this.bar = contrib.bar({ label: ' Emotions entered ', top: 1, left: 0, width: '50%', height: '45%', ...barGeometry(38), xOffset: BAR_X_OFFSET, maxHeight: 1, border: { type: 'line' } });
    this.line = contrib.line({ label: ' Faces per emotion, 60 s ', top: 1, left: '50%', width: `50%-${LEGEND_WIDTH}`, height: '45%', showLegend: false, minY: 0, wholeNumbersOnly: true, border: { type: 'line' } });
    this.screen.append(this.bar);
    this.screen.append(this.line);
    const legend = EMOTIONS.map((e) => `{${COLORS[e]}-fg}${e}{/${COLORS[e]}-fg}`).join('\n');
    blessed.box({ parent: this.screen, top: 1, left: `100%-${LEGEND_WIDTH}`, width: LEGEND_WIDTH, height: '45%', border: { type: 'line' }, tags: true, content: legend });
    this.faces = blessed.box({ parent: this.screen, label: ' Faces ', top: '45%+1', left: 0, width: '35%', height: '30%', border: { type: 'line' }, tags: false });
    this.health = blessed.box({ parent: this.screen, label: ' Kiosk ', top: '45%+1', left: '35%', width: '65%', height: '30%', border: { type: 'line' }, tags: false });
    this.log = blessed.box({ parent: this.screen, label: ' Events ', top: '75%', left: 0, width: '100%', height: '25%-1', border: { type: 'line' }, tags: false });
    this.status = blessed.box({ parent: this.screen, bottom: 0, left: 0, width: '100%', height: 1, content: KEYS, style: { fg: 'black', bg: 'white' } });
    this.screen.key(['q', 'C-c', 'escape'], () => actions.quit());
    this.screen.key(['d', 'tab'], () => actions.nextDevice());
    this.screen.key(['p', 'space'], () => actions.togglePause());
    this.screen.on('resize', () => this.screen.render());
  }

  draw(s: DashboardState): void {
    if (this.destroyed) return;
    const d = s.selected ? s.devices.get(s.selected) : undefined;
    // Every string goes through printable(): no control character or escape sequence from a message reaches the terminal.
    this.header.setContent(printable(headerText(s)));
    const dropped = malformedText(s);
    this.status.setContent(dropped ? `${KEYS}   ${dropped}` : KEYS);
    const totals = d?.emotionTotals;
    this.bar.setLabel(` Emotions entered (${d?.eventTotal ?? 0} events) `);
    // from the canvas the chart drew on (created when it was attached), so bars never run past it
    const canvas = (this.bar as unknown as { canvasSize?: { width: number } }).canvasSize;
    Object.assign(this.bar.options, barGeometry(canvas?.width ?? 38));
    this.bar.setData({ titles: EMOTIONS.map((e) => SHORT[e]), data: EMOTIONS.map((e) => totals?.[e] ?? 0) });
    const mix = d?.mix ?? [];
    const x = mix.map((_, i) => String(i - mix.length + 1));
    const maxY = Math.max(1, ...mix.flatMap((m) => EMOTIONS.map((e) => m[e])));
    (this.line.options as { maxY?: number }).maxY = maxY;
    this.line.setData(
      EMOTIONS.map((e) => ({ title: SHORT[e], x: x.length > 0 ? x : ['0'], y: mix.length > 0 ? mix.map((m) => m[e]) : [0], style: { line: COLORS[e] } })),
    );
    this.faces.setContent(printable(facesText(d), true));
    this.health.setLabel(healthTitle(d, s.source.connected));
    this.health.setContent(printable(healthText(d, s.mqttOff, Date.now(), s.source.connected), true));
    const rows = Math.max(1, (this.log.height as number) - 2);
    this.log.setContent(logLines(s, rows).map((l) => printable(l)).join('\n'));
    this.screen.render();
  }

  /** Gives the terminal back (cursor, normal screen, echo). Safe to call twice. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.screen.destroy();
  }
}
