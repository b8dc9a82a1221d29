// The dashboard's figures: masks decided (a progress bar), actions, masks per action, seconds
// per bulk action, reviews, patches checked, and per annotator a table and a bar chart.

import type { Schemas } from '../shared/client';
import { el } from '../shared/util';
import { num, svg, ticks, title } from '../shared/svg';

export type Board = Schemas['DashboardOut'];

export interface AnnotatorRow {
  user: string;
  decisions: number;
  group_decisions: number;
  mask_decisions: number;
  masks: number;
  undone: number;
  accepted: number;
  rejected: number;
  second_pass: number;
}

const COLUMNS: [keyof AnnotatorRow, string, string][] = [
  ['decisions', 'Decisions', 'Decisions in force, first pass'],
  ['group_decisions', 'Cluster', 'Cluster (group) decisions'],
  ['mask_decisions', 'Mask', 'Single-mask corrections'],
  ['masks', 'Masks', 'Masks whose class comes from this annotator'],
  ['second_pass', '2nd pass', 'Second, independent labellings of double groups'],
  ['accepted', 'Accepted', 'Decisions a reviewer accepted'],
  ['rejected', 'Rejected', 'Decisions a reviewer rejected'],
  ['undone', 'Undone', 'Decisions undone'],
];

export function annotators(board: Board): AnnotatorRow[] {
  return board.per_annotator.map((p) => ({
    user: String(p.user), decisions: Number(p.decisions ?? 0), group_decisions: Number(p.group_decisions ?? 0),
    mask_decisions: Number(p.mask_decisions ?? 0), masks: Number(p.masks ?? 0), undone: Number(p.undone ?? 0),
    accepted: Number(p.accepted ?? 0), rejected: Number(p.rejected ?? 0), second_pass: Number(p.second_pass ?? 0),
  }));
}

function card(id: string, label: string, value: string, ...more: (Node | string | null)[]): HTMLElement {
  return el('section', { class: 'card', id: `card-${id}` }, el('h3', {}, label),
    el('p', { class: 'value', 'data-value': id }, value), ...more);
}

function bar(id: string, fraction: number, label: string): HTMLElement {
  const pct = Math.max(0, Math.min(1, fraction)) * 100;
  return el('div', { class: 'bar', id, role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': 100,
    'aria-valuenow': Math.round(pct), 'aria-label': label },
  el('span', { class: 'fill', style: `width:${pct.toFixed(2)}%` }));
}

export function cards(board: Board): HTMLElement {
  const share = board.masks ? board.decided / board.masks : 0;
  const checked = board.patches ? board.checked_patches / board.patches : 0;
  const areaShare = board.area_ha ? (board.decided_ha ?? 0) / board.area_ha : 0;
  const reviews = board.reviews ?? {};
  const reviewed = (reviews.accepted ?? 0) + (reviews.rejected ?? 0);
  return el('div', { class: 'cards', id: 'cards' },
    card('decided', 'Masks decided', `${num(board.decided)} of ${num(board.masks)}`,
      bar('decided-bar', share, 'Masks decided'),
      el('p', { class: 'sub' }, `${(share * 100).toFixed(1)} % · ${num(board.decided_by_group)} by cluster decisions, `
        + `${num(board.decided_by_mask)} by mask corrections`)),
    card('area', 'Area decided', `${(board.decided_ha ?? 0).toFixed(2)} of ${(board.area_ha ?? 0).toFixed(2)} ha`,
      bar('area-bar', areaShare, 'Area decided'),
      el('p', { class: 'sub' }, `${(areaShare * 100).toFixed(1)} % of the area (the map is judged by area)`)),
    card('actions', 'Expert actions', num(board.actions), el('p', { class: 'sub' },
      `decisions in force (first pass) and ${num(board.refine_sends ?? 0)} send${board.refine_sends === 1 ? '' : 's'} to refinement`)),
    card('masks-per-action', 'Masks per action', num(board.masks_per_action, 1),
      el('p', { class: 'sub' }, 'masks labelled ÷ actions')),
    card('seconds', 'Seconds per bulk action', num(board.seconds_per_bulk_action, 1),
      el('p', { class: 'sub' }, 'a cluster decision, timed from its lease')),
    card('reviews', 'Reviews', `${num(reviewed)} reviewed`,
      el('p', { class: 'sub', id: 'reviews-detail' }, `${num(reviews.pending ?? 0)} pending · ${num(reviews.accepted ?? 0)} accepted · `
        + `${num(reviews.rejected ?? 0)} rejected`)),
    card('patches', 'Patches checked', `${num(board.checked_patches)} of ${num(board.patches)}`,
      bar('patches-bar', checked, 'Patches checked')));
}

export function annotatorTable(rows: AnnotatorRow[]): HTMLElement {
  if (!rows.length) return el('p', { class: 'note' }, 'No decision yet.');
  return el('table', { id: 'annotators', class: 'table' },
    el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'Annotator'),
      ...COLUMNS.map(([, label, help]) => el('th', { scope: 'col', title: help, class: 'num' }, label)))),
    el('tbody', {}, ...rows.map((r) => el('tr', { 'data-user': r.user }, el('th', { scope: 'row' }, r.user),
      ...COLUMNS.map(([key]) => el('td', { class: 'num', 'data-key': key }, num(r[key] as number)))))));
}

/** Horizontal bars: masks labelled and decisions per annotator. */
export function annotatorChart(rows: AnnotatorRow[]): SVGSVGElement | HTMLElement {
  if (!rows.length) return el('span', {});
  const W = 420;
  const rowH = 34;
  const left = 70;
  const right = 50;
  const H = rows.length * rowH + 26;
  const max = Math.max(1, ...rows.map((r) => r.masks), ...rows.map((r) => r.decisions));
  const axis = ticks(max);
  const top = axis[axis.length - 1];
  const x = (v: number) => left + ((W - left - right) * v) / top;
  return svg('svg', { id: 'annotator-chart', class: 'plot bars', viewBox: `0 0 ${W} ${H}`, role: 'img',
    'aria-label': 'Masks labelled and decisions per annotator' },
  ...axis.map((v) => svg('g', { class: 'tick' }, svg('line', { x1: x(v), x2: x(v), y1: 0, y2: H - 20 }),
    svg('text', { x: x(v), y: H - 6, 'text-anchor': 'middle' }, num(v)))),
  ...rows.map((r, i) => {
    const y0 = i * rowH + 4;
    return svg('g', { class: 'annotator-bars', 'data-user': r.user },
      svg('text', { class: 'name', x: left - 8, y: y0 + 17, 'text-anchor': 'end' }, r.user),
      svg('rect', { class: 'masks-bar', x: left, y: y0, width: Math.max(1, x(r.masks) - left), height: 13, rx: 2 },
        title(`${r.user}: ${r.masks} masks`)),
      svg('text', { class: 'count', x: x(r.masks) + 4, y: y0 + 11 }, num(r.masks)),
      svg('rect', { class: 'decisions-bar', x: left, y: y0 + 15, width: Math.max(1, x(r.decisions) - left), height: 9, rx: 2 },
        title(`${r.user}: ${r.decisions} decisions`)),
      svg('text', { class: 'count small', x: x(r.decisions) + 4, y: y0 + 23 }, num(r.decisions)));
  }));
}
