// The enlarged view of one thumbnail: the mask and its surroundings at the imagery's own
// pixels (the server's `large` thumbnail), in a dialog. /annotate/ opens it with `v` on the
// focused card or a card's magnifier, /review/ with a click on a thumbnail; Esc or a click
// outside closes it.

import { ImageSet } from './client';
import { el } from './util';

/** What the view shows: the mask's thumbnail path (without query), a title and a caption. */
export interface Enlargeable {
  id: number | string;
  thumbnail: string;
  title: string;
  caption: string;
}

/** The thumbnail path of a mask. */
export function thumbnailOf(project: string, patch: string, mask: number): string {
  return `/api/projects/${encodeURIComponent(project)}/patches/${encodeURIComponent(patch)}/masks/${mask}/thumbnail.png`;
}

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

/** Open the enlarged view of one mask. */
export function enlarge(what: Enlargeable): void {
  dialog ??= build();
  const img = el('img', { alt: `${what.title} and its surroundings, at native resolution` });
  dialog.replaceChildren(
    el('h2', { id: 'enlarged-title', tabindex: '-1', autofocus: true }, what.title),
    el('p', { class: 'note' }, what.caption),
    el('div', { class: 'enlarged-image' }, img),
    el('form', { method: 'dialog', class: 'row end' }, el('button', { class: 'button primary', value: 'close' }, 'Close')),
  );
  dialog.dataset.mask = String(what.id);
  delete dialog.dataset.drawn;
  if (!dialog.open) dialog.showModal();
  images.into(img, `large-${what.id}`, `${what.thumbnail}?large=true`)
    .then(() => { dialog?.setAttribute('data-drawn', String(what.id)); })
    .catch(() => { img.alt = 'the enlarged view could not be loaded'; });
}

export function enlargedOpen(): boolean {
  return Boolean(dialog?.open);
}
