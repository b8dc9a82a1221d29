// The classifier's calibration on held-out masks (whole groups held out): a reliability
// diagram of the latest scored training, as inline SVG. Each bin of confidence is a bar of
// the share of its masks that were right; a calibrated classifier's bars touch the diagonal.
// The uncalibrated bins (before temperature scaling) are drawn as hollow marks beside them.

import type { components } from '../shared/api-types';
import { el } from '../shared/util';
import { svg, title } from '../shared/svg';

type Holdout = components['schemas']['HoldoutOut'];
type Reliability = components['schemas']['ReliabilityOut'];

const W = 300;
const H = 240;
const M = { top: 12, right: 12, bottom: 40, left: 44 };

function percent(value: number | null | undefined): string {
  return value == null ? '—' : `${(value * 100).toFixed(1)} %`;
}

/** The latest training whose hold-out has reliability bins, or null. */
export function latestCalibrated<T extends { holdout?: Holdout | null }>(trainings: T[]): Holdout | null {
  for (let i = trainings.length - 1; i >= 0; i -= 1) {
    const h = trainings[i].holdout;
    if (h?.reliability && h.reliability.n > 0) return h;
  }
  return null;
}

function bars(bins: Reliability, x: (v: number) => number, y: (v: number) => number, cls: string): SVGElement[] {
  const out: SVGElement[] = [];
  bins.count.forEach((count, i) => {
    const acc = bins.accuracy[i];
    const conf = bins.confidence[i];
    if (!count || acc == null) return;
    const text = `${(bins.edges[i] * 100).toFixed(0)}-${(bins.edges[i + 1] * 100).toFixed(0)} % confident: `
      + `${count} masks, right ${percent(acc)} (mean confidence ${percent(conf)})`;
    if (cls === 'calibrated') {
      const x0 = x(bins.edges[i]) + 1;
      const x1 = x(bins.edges[i + 1]) - 1;
      out.push(svg('rect', { class: 'bin', x: x0, y: y(acc), width: Math.max(1, x1 - x0), height: y(0) - y(acc) },
        title(text)));
    } else if (conf != null) {
      out.push(svg('circle', { class: 'bin-raw', cx: x(conf), cy: y(acc), r: 3.5 }, title(`before calibration: ${text}`)));
    }
  });
  return out;
}

export function reliabilityPlot(holdout: Holdout | null): HTMLElement {
  if (!holdout?.reliability) {
    return el('p', { class: 'note', id: 'reliability-empty' },
      'No calibration yet: a training scored on held-out masks draws its reliability diagram here.');
  }
  const iw = W - M.left - M.right;
  const ih = H - M.top - M.bottom;
  const x = (v: number) => M.left + iw * v;
  const y = (v: number) => M.top + ih * (1 - v);
  const grid = [0, 0.25, 0.5, 0.75, 1].map((v) => svg('g', { class: 'tick' },
    svg('line', { x1: M.left, x2: W - M.right, y1: y(v), y2: y(v) }),
    svg('text', { x: M.left - 6, y: y(v) + 4, 'text-anchor': 'end' }, `${v * 100} %`),
    svg('text', { x: x(v), y: H - M.bottom + 14, 'text-anchor': 'middle' }, `${v * 100}`)));
  const chart = svg('svg', { id: 'reliability-plot', class: 'plot', viewBox: `0 0 ${W} ${H}`, role: 'img',
    'aria-label': `Reliability diagram: expected calibration error ${percent(holdout.ece)}` },
  svg('g', { class: 'grid' }, ...grid),
  svg('line', { class: 'diagonal', x1: x(0), y1: y(0), x2: x(1), y2: y(1) }),
  ...bars(holdout.reliability, x, y, 'calibrated'),
  ...(holdout.reliability_uncalibrated ? bars(holdout.reliability_uncalibrated, x, y, 'raw') : []),
  svg('text', { class: 'axis-title', x: M.left + iw / 2, y: H - 6, 'text-anchor': 'middle' }, 'confidence (%)'),
  svg('text', { class: 'axis-title', x: 12, y: M.top + ih / 2, 'text-anchor': 'middle',
    transform: `rotate(-90 12 ${M.top + ih / 2})` }, 'right'));
  const temperature = holdout.temperature != null ? `, temperature ${holdout.temperature.toFixed(2)}` : '';
  return el('figure', { class: 'reliability' }, chart,
    el('figcaption', { id: 'reliability-caption', class: 'note' },
      `Calibration error (ECE) ${percent(holdout.ece)} after calibration, ${percent(holdout.ece_uncalibrated)} before`
      + `${temperature}; ${holdout.reliability.n} held-out masks. Bars: share right per confidence bin `
      + '(on the diagonal = honest); dots: before calibration.'));
}
