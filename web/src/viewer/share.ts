// The Share dialog: the address of the current view (the URL hash holds all of it) to copy.

import { byId } from '../shared/util';

/** Wire the Share button and the dialog's Copy button; `saveView` writes the hash first. */
export function bindShare(saveView: () => void): void {
  byId('share').addEventListener('click', () => {
    saveView();
    const dialog = byId<HTMLDialogElement>('share-dialog');
    const input = byId<HTMLInputElement>('share-url');
    input.value = window.location.href;
    byId('share-status').textContent = '';
    dialog.showModal();
    input.select();
  });
  byId('share-copy').addEventListener('click', async () => {
    const input = byId<HTMLInputElement>('share-url');
    input.select();
    let ok = false;
    try {
      await navigator.clipboard.writeText(input.value);
      ok = true;
    } catch {
      ok = document.execCommand?.('copy') ?? false;
    }
    byId('share-status').textContent = ok ? 'Link copied.' : 'Select the link and copy it (Ctrl+C).';
  });
}
