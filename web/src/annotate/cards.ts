// The grid of the open group's masks as this page uses it: what a card shows (hidden classes in
// a second labelling), the selection count, and the enlarged view of a mask.

import { enlarge } from '../shared/enlarge';
import type { Mask } from '../shared/client';
import { Grid, areaText } from './grid';
import { classes, page } from './state';
import { ui } from './ui';

export const grid = new Grid({
  node: ui.grid,
  scroll: ui.scroll,
  band: ui.band,
  classes,
  shown: (mask) => {
    if (page.secondPass) { // an independent labelling: the first labeller's classes stay hidden
      const mine = page.secondLabels.get(mask.id);
      return mine ? { class_id: mine.class_id || null, fine: mine.fine, note: mine.class_id ? undefined : 'Unknown' }
        : { class_id: null, fine: null, note: 'not labelled (2nd pass)' };
    }
    return { class_id: mask.class_id ?? null, fine: mask.fine_class ?? null };
  },
  onSelection: () => showCount(),
  onEnlarge: (mask) => enlargeMask(mask),
});

export function enlargeMask(mask: Mask): void {
  enlarge({ id: mask.id, thumbnail: mask.thumbnail, title: `${mask.patch}_${mask.mask_id}`,
    caption: `${mask.class_name ?? 'undecided'} · ${areaText(mask)} · confidence ${mask.confidence?.toFixed(2) ?? '–'}` });
}

/** "3 selected of 57 (1 on other pages)". */
export function showCount(): void {
  const n = grid.selected.size;
  const here = grid.masks.filter((m) => grid.selected.has(m.id)).length;
  const elsewhere = n - here;
  ui.count.textContent = `${n} selected` + (page.total ? ` of ${page.total}` : '') + (elsewhere ? ` (${elsewhere} on other pages)` : '');
  ui.count.dataset.count = String(n);
}
