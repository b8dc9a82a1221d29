// The enlarged view of one thumbnail: the mask and its surroundings at the imagery's own
// pixels (the server's `large` thumbnail), in a dialog; `v` on the focused card, or a click on
// a card's magnifier, opens it; Esc or a click outside closes it.

import type { Mask } from '../shared/client';
import { ImageSet } from '../shared/client';
import { el } from '../shared/util';

let dialog: HTMLDialogElement | null = null;
const images = new ImageSet();

function build(): HTMLDialogElement {
  const node = el('dialog', { id: 'enlarged', class: 'tool-dialog enlarged', 'aria-labelledby': 'enlarged-title' });
  node.addEventListener('click', (e) => { if (e.target === node) node.close(); });
  node.addEventListener('close', () => images.clear());
  node.addEventListener('keydown', (e) => { // the page's shortcuts wait while it is open
    e.stopPropagation();
    if (e.key === 'Escape') { e.preventDefault(); node.close(); }
  });
  document.body.append(node);
  return node;
}

function area(mask: Mask): string {
  const m2 = mask.area_m2;
  if (m2 === null || m2 === undefined) return `${mask.area} px`;
  return m2 >= 10_000 ? `${(m2 / 10_000).toFixed(2)} ha` : `${Math.round(m2)} m²`;
}

/** Open the enlarged view of `mask` (`caption`: what the card says about it). */
export function enlarge(mask: Mask, caption: string): void {
  dialog ??= build();
  const img = el('img', { alt: `mask ${mask.patch}_${mask.mask_id} and its surroundings, at native resolution` });
  dialog.replaceChildren(
    el('h2', { id: 'enlarged-title', tabindex: '-1', autofocus: true }, `${mask.patch}_${mask.mask_id}`),
    el('p', { class: 'note' }, `${caption} · ${area(mask)} · confidence ${mask.confidence?.toFixed(2) ?? '–'}`),
    el('div', { class: 'enlarged-image' }, img),
    el('form', { method: 'dialog', class: 'row end' }, el('button', { class: 'button primary', value: 'close' }, 'Close')),
  );
  dialog.dataset.mask = String(mask.id);
  if (!dialog.open) dialog.showModal();
  const url = `${mask.thumbnail}?large=true`;
  images.into(img, `large-${mask.id}`, url).then(() => { dialog?.setAttribute('data-drawn', String(mask.id)); })
    .catch(() => { img.alt = 'the enlarged view could not be loaded'; });
}

export function enlargedOpen(): boolean {
  return Boolean(dialog?.open);
}
