/**
 * PNG charts for the training report, drawn by Chart.js (and chartjs-chart-matrix for the confusion matrix) on an
 * @napi-rs/canvas canvas. Each function renders one chart to a PNG buffer; nothing here touches the file system.
 */
import { createCanvas } from '@napi-rs/canvas';
import { Chart, registerables, type ChartConfiguration, type Plugin } from 'chart.js';
import { MatrixController, MatrixElement } from 'chartjs-chart-matrix';
import type { EpochRecord } from './checkpoint.js';
import type { ClassificationReport } from './metrics.js';

Chart.register(...registerables, MatrixController, MatrixElement);

const WHITE_BACKGROUND: Plugin = {
  id: 'whiteBackground',
  beforeDraw: (chart) => {
    const { ctx } = chart;
    ctx.save();
    ctx.fillStyle = '#ffffff';
    ctx.fillRect(0, 0, chart.width, chart.height);
    ctx.restore();
  },
};

function render(width: number, height: number, config: ChartConfiguration): Buffer {
  const canvas = createCanvas(width, height);
  config.options = { ...(config.options ?? {}), responsive: false, animation: false, devicePixelRatio: 1 } as typeof config.options;
  config.plugins = [...(config.plugins ?? []), WHITE_BACKGROUND];
  const chart = new Chart(canvas as unknown as HTMLCanvasElement, config);
  const png = canvas.toBuffer('image/png');
  chart.destroy();
  return png;
}

const COLORS = { train: '#1f77b4', val: '#d62728', flip: '#2ca02c', lr: '#7f7f7f' };

/** Loss per epoch (train, validation) with the learning rate on a second axis. */
export function lossChart(history: EpochRecord[], title: string): Buffer {
  return render(800, 420, {
    type: 'line',
    data: {
      labels: history.map((h) => h.epoch),
      datasets: [
        { label: 'train loss (weighted, augmented)', data: history.map((h) => h.trainLoss), borderColor: COLORS.train, backgroundColor: COLORS.train, yAxisID: 'y' },
        { label: 'validation loss', data: history.map((h) => h.valLoss), borderColor: COLORS.val, backgroundColor: COLORS.val, yAxisID: 'y' },
        { label: 'learning rate (end of epoch)', data: history.map((h) => h.lr), borderColor: COLORS.lr, backgroundColor: COLORS.lr, borderDash: [4, 4], yAxisID: 'lr' },
      ],
    },
    options: {
      plugins: { title: { display: true, text: title } },
      scales: {
        x: { title: { display: true, text: 'epoch' } },
        y: { title: { display: true, text: 'cross-entropy' } },
        lr: { position: 'right', title: { display: true, text: 'learning rate' }, grid: { drawOnChartArea: false } },
      },
    },
  });
}

/** Accuracy per epoch: train (augmented), validation, validation with test-time flip. */
export function accuracyChart(history: EpochRecord[], title: string): Buffer {
  return render(800, 420, {
    type: 'line',
    data: {
      labels: history.map((h) => h.epoch),
      datasets: [
        { label: 'train (augmented)', data: history.map((h) => h.trainAcc * 100), borderColor: COLORS.train, backgroundColor: COLORS.train },
        { label: 'validation', data: history.map((h) => h.valAcc * 100), borderColor: COLORS.val, backgroundColor: COLORS.val },
        { label: 'validation, test-time flip', data: history.map((h) => h.valAccFlip * 100), borderColor: COLORS.flip, backgroundColor: COLORS.flip },
      ],
    },
    options: {
      plugins: { title: { display: true, text: title } },
      scales: { x: { title: { display: true, text: 'epoch' } }, y: { title: { display: true, text: 'accuracy (%)' } } },
    },
  });
}

/** Row-normalised confusion matrix (true class down, predicted across) with the counts written in the cells. */
export function confusionChart(report: ClassificationReport, title: string): Buffer {
  const labels = report.perClass.map((p) => p.label);
  const k = labels.length;
  const cells: { x: string; y: string; v: number; n: number }[] = [];
  report.confusion.forEach((row, t) => {
    const sum = row.reduce((a, b) => a + b, 0) || 1;
    row.forEach((n, p) => cells.push({ x: labels[p]!, y: labels[t]!, v: n / sum, n }));
  });
  const cellText: Plugin = {
    id: 'cellText',
    afterDatasetsDraw: (chart) => {
      const { ctx } = chart;
      const meta = chart.getDatasetMeta(0);
      ctx.save();
      ctx.font = '13px sans-serif';
      ctx.textAlign = 'center';
      ctx.textBaseline = 'middle';
      meta.data.forEach((el, i) => {
        const c = cells[i]!;
        const { x, y } = el.getProps(['x', 'y'], true) as { x: number; y: number };
        const w = (el as unknown as { width: number }).width ?? 0;
        const h = (el as unknown as { height: number }).height ?? 0;
        ctx.fillStyle = c.v > 0.5 ? '#ffffff' : '#000000';
        ctx.fillText(`${c.n}`, x + w / 2, y + h / 2 - 7);
        ctx.fillText(`${(c.v * 100).toFixed(0)}%`, x + w / 2, y + h / 2 + 9);
      });
      ctx.restore();
    },
  };
  return render(760, 700, {
    type: 'matrix',
    data: {
      datasets: [
        {
          label: 'confusion',
          data: cells,
          backgroundColor: (ctx: { raw?: unknown }) => {
            const v = (ctx.raw as { v?: number } | undefined)?.v ?? 0;
            return `rgba(31, 119, 180, ${0.06 + 0.94 * v})`;
          },
          borderColor: '#ffffff',
          borderWidth: 1,
          width: ({ chart }: { chart: Chart }) => (chart.chartArea || { width: 0 }).width / k - 1,
          height: ({ chart }: { chart: Chart }) => (chart.chartArea || { height: 0 }).height / k - 1,
        },
      ],
    } as unknown as ChartConfiguration['data'],
    options: {
      plugins: { title: { display: true, text: title }, legend: { display: false }, tooltip: { enabled: false } },
      scales: {
        x: { type: 'category', labels, position: 'top', offset: true, title: { display: true, text: 'predicted' }, grid: { display: false } },
        y: { type: 'category', labels, offset: true, reverse: false, title: { display: true, text: 'true' }, grid: { display: false } },
      },
    },
    plugins: [cellText],
  } as unknown as ChartConfiguration);
}

/** Per-class precision, recall and F1 as grouped bars. */
export function perClassChart(report: ClassificationReport, title: string): Buffer {
  const labels = report.perClass.map((p) => `${p.label} (${p.support})`);
  return render(800, 420, {
    type: 'bar',
    data: {
      labels,
      datasets: [
        { label: 'precision', data: report.perClass.map((p) => p.precision * 100), backgroundColor: COLORS.train },
        { label: 'recall', data: report.perClass.map((p) => p.recall * 100), backgroundColor: COLORS.val },
        { label: 'F1', data: report.perClass.map((p) => p.f1 * 100), backgroundColor: COLORS.flip },
      ],
    },
    options: {
      plugins: { title: { display: true, text: title } },
      scales: { y: { min: 0, max: 100, title: { display: true, text: '%' } } },
    },
  });
}
