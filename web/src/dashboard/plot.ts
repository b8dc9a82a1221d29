// The classifier's hold-out accuracy after each retraining, over time: one point per training
// (and per classifier kind it was scored with), as inline SVG. A training that was not scored
// (holdout.scored false) draws no point: its reason is in its tooltip and under the chart.

import { el } from '../shared/util';
import { svg, title } from '../shared/svg';

export interface Training {
  at: string;
  model_version: string | null;
  masks: number;
  decisions: number;
  holdout_accuracy: Record<string, number>;
  map_version: string | null;
  holdout?: { scored: boolean; reason?: string | null; ece?: number | null; temperature?: number | null };
}

/** What a training's hold-out said beyond its accuracy: the reason it is (partly) unscored, ECE. */
function holdoutNote(t: Training): string {
  const h = t.holdout;
  const parts = [];
  if (h?.ece != null) parts.push(`calibration error (ECE) ${(h.ece * 100).toFixed(1)} %`);
  if (h?.reason) parts.push(h.reason);
  else if (!Object.keys(t.holdout_accuracy ?? {}).length) parts.push('not scored');
  return parts.join('; ');
}

const W = 560;
const H = 240;
const M = { top: 16, right: 16, bottom: 40, left: 46 };
const COLOURS = ['#1f5fd6', '#d6691f', '#11743c', '#8e24aa'];

/** The series: each classifier kind any training was scored with (mlp first). */
function kinds(trainings: Training[]): string[] {
  const found = new Set<string>();
  trainings.forEach((t) => Object.keys(t.holdout_accuracy ?? {}).forEach((k) => found.add(k)));
  return [...found].sort((a, b) => (a === 'mlp' ? -1 : b === 'mlp' ? 1 : a.localeCompare(b)));
}

export function accuracyPlot(trainings: Training[]): HTMLElement {
  if (!trainings.length) {
    return el('p', { class: 'note', id: 'accuracy-empty' }, 'No retraining yet: the first Retrain and rebuild adds a point.');
  }
  const series = kinds(trainings);
  const times = trainings.map((t) => new Date(t.at).getTime());
  const t0 = Math.min(...times);
  const t1 = Math.max(...times);
  const values = trainings.flatMap((t) => Object.values(t.holdout_accuracy ?? {}));
  const low = Math.max(0, Math.floor((Math.min(1, ...values) - 0.05) * 10) / 10);
  const iw = W - M.left - M.right;
  const ih = H - M.top - M.bottom;
  // by time; trainings at (nearly) the same time spread out evenly instead
  const even = t1 - t0 < 1000 * trainings.length;
  const x = (i: number) => M.left + (trainings.length === 1 ? iw / 2
    : iw * (even ? i / (trainings.length - 1) : (times[i] - t0) / (t1 - t0)));
  const y = (v: number) => M.top + ih * (1 - (v - low) / (1 - low));
  const grid = [];
  const step = 1 - low > 0.5 ? 0.2 : 1 - low > 0.2 ? 0.1 : 0.05;
  for (let v = 1; v >= low - 0.0001; v -= step) {
    grid.push(svg('g', { class: 'tick' },
      svg('line', { x1: M.left, x2: W - M.right, y1: y(v), y2: y(v) }),
      svg('text', { x: M.left - 6, y: y(v) + 4, 'text-anchor': 'end' }, `${Math.round(v * 100)} %`)));
  }
  const sameDay = new Date(t0).toDateString() === new Date(t1).toDateString();
  const label = (i: number) => {
    const d = new Date(times[i]);
    return sameDay ? d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
      : d.toLocaleDateString([], { month: 'short', day: 'numeric' });
  };
  const every = Math.max(1, Math.ceil(trainings.length / 8));
  const xlabels = trainings.map((_, i) => (i % every === 0 || i === trainings.length - 1
    ? svg('text', { x: x(i), y: H - M.bottom + 16, 'text-anchor': trainings.length === 1 ? 'middle'
      : i === 0 ? 'start' : i === trainings.length - 1 ? 'end' : 'middle' }, label(i)) : null));
  const lines = series.map((kind, s) => {
    const pts = trainings.map((t, i) => [i, t.holdout_accuracy?.[kind]] as const)
      .filter((p): p is readonly [number, number] => typeof p[1] === 'number');
    return svg('polyline', { class: 'series-line', 'data-series': kind, fill: 'none', stroke: COLOURS[s % COLOURS.length],
      'stroke-width': 2, points: pts.map(([i, v]) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ') });
  });
  const points = trainings.map((t, i) => {
    const acc = t.holdout_accuracy ?? {};
    const text = `${new Date(t.at).toLocaleString()}: model ${t.model_version ?? '?'}, ${t.masks} masks, `
      + `${t.decisions} decisions; hold-out ${Object.entries(acc).map(([k, v]) => `${k} ${(v * 100).toFixed(1)} %`).join(', ')}`
      + `${Object.keys(acc).length && holdoutNote(t) ? '; ' : ''}${holdoutNote(t)}${t.map_version ? `; map ${t.map_version}` : ''}`;
    // an unscored training draws no point: a value-less mark on the scale would read as a score
    const marks = series.filter((k) => typeof acc[k] === 'number').map((k) => svg('circle', {
      class: 'point', 'data-series': k, cx: x(i), cy: y(acc[k]), r: 4.5,
      fill: COLOURS[series.indexOf(k) % COLOURS.length] }));
    return svg('g', { class: marks.length ? 'training' : 'training unscored', 'data-training': i,
      'data-version': t.model_version ?? '' }, title(text), ...marks);
  });
  const chart = svg('svg', { id: 'accuracy-plot', class: 'plot', viewBox: `0 0 ${W} ${H}`, role: 'img',
    'aria-label': `Hold-out accuracy after each of ${trainings.length} trainings` },
  svg('g', { class: 'grid' }, ...grid),
  svg('line', { class: 'axis', x1: M.left, x2: W - M.right, y1: M.top + ih, y2: M.top + ih }),
  svg('g', { class: 'xlabels' }, ...xlabels),
  svg('text', { class: 'axis-title', x: M.left + iw / 2, y: H - 4, 'text-anchor': 'middle' }, 'training'),
  ...lines, ...points);
  const legend = el('ul', { class: 'plot-legend' }, ...series.map((k, s) => el('li', {},
    el('span', { class: 'swatch', style: `background:${COLOURS[s % COLOURS.length]}` }), k === 'mlp' ? 'MLP (the classifier)' : k)));
  const last = trainings[trainings.length - 1];
  const lastText = Object.entries(last.holdout_accuracy ?? {}).map(([k, v]) => `${k} ${(v * 100).toFixed(1)} %`).join(', ');
  const unscored = trainings.filter((t) => !Object.keys(t.holdout_accuracy ?? {}).length).length;
  const note = holdoutNote(last);
  return el('figure', { class: 'accuracy' }, chart,
    el('figcaption', {}, series.length ? legend : null,
      el('span', { class: 'note', id: 'accuracy-last' }, `Latest: ${[lastText, note].filter(Boolean).join('; ')} `
        + `(model ${last.model_version ?? '?'}, ${last.masks} masks).`),
      unscored ? el('span', { class: 'note', id: 'accuracy-unscored' },
        ` ${unscored} of ${trainings.length} trainings not scored, so not drawn.`) : null));
}
