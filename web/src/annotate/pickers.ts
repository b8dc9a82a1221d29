// The rows of neighbourhood and group buttons, each with its progress (by count and by area).

import type { Group, Neighbourhood } from '../shared/client';
import { el, pct, sharePct } from '../shared/util';

export const ha = (value: number | undefined): string => `${(value ?? 0).toFixed(2)} ha`;

export function renderHoods(node: HTMLElement, hoods: Neighbourhood[], current: string | null,
  open: (name: string) => void): void {
  node.replaceChildren(...hoods.map((h) => el('button', {
    type: 'button', class: `pick hood${h.progress >= 1 ? ' done' : ''}`, 'data-hood': h.name,
    'aria-pressed': String(h.name === current), title: `${h.groups} groups, ${h.decided}/${h.masks} masks decided (${pct(h.progress)}); `
      + `${ha(h.decided_ha)} of ${ha(h.area_ha)} decided (${pct(h.share ?? 0)} of the project's area)`,
    onclick: () => open(h.name),
  }, el('span', {}, h.name), el('span', { class: 'bar', 'aria-hidden': 'true' },
    el('span', { style: `width:${(h.progress * 100).toFixed(1)}%` })),
  el('span', { class: 'sr-only' }, `, ${pct(h.progress)} decided`))));
}

/** One group's button: its key, area, progress; done, partly done, held by someone else. */
export function groupButton(g: Group, current: Group | null, user: string, open: (group: Group) => void): HTMLButtonElement {
  const done = g.decided >= g.size;
  const leasedByOther = g.lease && g.lease.user !== user;
  return el('button', {
    type: 'button', class: `pick group${done ? ' done' : ''}${g.decided && !done ? ' partial' : ''}${leasedByOther ? ' leased' : ''}`,
    'data-group': g.key, 'aria-pressed': String(g.key === current?.key && g.neighbourhood === current?.neighbourhood),
    title: `${g.summary}\n${g.decided}/${g.size} decided, ${g.refine} to refine; ${ha(g.area_ha)} (${sharePct(g.share ?? 0)} of the project), `
      + `${ha(g.decided_ha)} decided, map gain ${ha(g.gain_ha)}; ${pct(g.doubt ?? 0)} doubtful; predicted ${g.pred_name}`
      + `${leasedByOther ? `\nheld by ${String(g.lease?.user)}` : ''}`,
    'data-area-ha': g.area_ha ?? 0, 'data-size': g.size, 'data-doubt': g.doubt ?? 0, 'data-class': g.pred_class,
    onclick: () => open(g),
  }, done ? el('span', { class: 'tick', 'aria-label': 'done' }, '✓') : null, g.key,
  el('span', { class: 'pick-area' }, ` ${(g.area_ha ?? 0).toFixed(1)} ha`),
  el('span', { class: 'bar', 'aria-hidden': 'true' }, el('span', { style: `width:${(100 * g.decided / Math.max(1, g.size)).toFixed(1)}%` })));
}
