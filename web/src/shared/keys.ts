// A tiny keyboard-shortcut registry: pages register what each key does, with a label;
// `?` opens an overlay listing every shortcut of the page.

import { el } from './util';

export interface Shortcut {
  /** Key combos: 'a', '1', 'Shift+ArrowRight', 'Ctrl+z' (Ctrl also matches ⌘), 'PageDown', 'Escape', '?' */
  keys: string[];
  label: string;
  group?: string;
  run: (event: KeyboardEvent) => void;
  /** Only while this is true (e.g. a group is open). */
  when?: () => boolean;
  /** Also while typing in a field (default: only Escape is). */
  inFields?: boolean;
  /** How the keys read in the help overlay, if not the list of `keys` (e.g. '← ↑ → ↓'). */
  shown?: string;
}

const shortcuts: Shortcut[] = [];
let dialog: HTMLDialogElement | null = null;
let installed = false;

/** The combo of a key event: modifiers (Ctrl, Alt, Shift) + key; Shift is implied by printable keys. */
export function comboOf(event: KeyboardEvent): string {
  const parts: string[] = [];
  if (event.ctrlKey || event.metaKey) parts.push('Ctrl');
  if (event.altKey) parts.push('Alt');
  const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
  const printable = event.key.length === 1 && event.key !== ' ';
  if (event.shiftKey && !printable) parts.push('Shift');
  parts.push(key === ' ' ? 'Space' : (printable ? (event.shiftKey ? event.key : key) : key));
  return parts.join('+');
}

function normal(combo: string): string {
  const plusKey = combo.endsWith('+'); // the + key itself ('+', 'Ctrl++')
  const parts = (plusKey ? combo.slice(0, -1) : combo).split('+').filter(Boolean);
  const key = plusKey ? '+' : parts.pop() ?? '';
  const mods = ['Ctrl', 'Alt', 'Shift'].filter((m) => parts.includes(m));
  const printable = key.length === 1;
  return [...mods.filter((m) => !(printable && m === 'Shift')), printable && !mods.includes('Shift') ? key.toLowerCase()
    : (printable ? key.toUpperCase() : key)].join('+');
}

function typing(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  return target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName);
}

function onKey(event: KeyboardEvent): void {
  if (event.defaultPrevented || event.isComposing) return;
  const combo = comboOf(event);
  if (dialog?.open && combo !== '?') return; // the overlay closes itself on Escape
  const inField = typing(event.target);
  // Space and Enter keep their meaning on a focused button or link
  if ((combo === 'Space' || combo === 'Enter') && event.target instanceof HTMLElement
      && event.target.closest('button, a[href], summary, [role="button"]')) return;
  for (const s of [...shortcuts].reverse()) { // the latest registration wins
    if (!s.keys.some((k) => normal(k) === combo)) continue;
    if (inField && !s.inFields && combo !== 'Escape') continue;
    if (s.when && !s.when()) continue;
    event.preventDefault();
    s.run(event);
    return;
  }
}

/** Register shortcuts; returns a function that removes them. */
export function addShortcuts(...list: Shortcut[]): () => void {
  if (!installed) {
    installed = true;
    document.addEventListener('keydown', onKey);
    shortcuts.push({ keys: ['?'], label: 'Show or hide this list of shortcuts', group: 'Help', run: toggleHelp,
      inFields: false });
  }
  shortcuts.push(...list);
  return () => list.forEach((s) => shortcuts.splice(shortcuts.indexOf(s), 1));
}

function keyLabel(combo: string): HTMLElement {
  const names: Record<string, string> = { ArrowLeft: '←', ArrowRight: '→', ArrowUp: '↑', ArrowDown: '↓',
    Escape: 'Esc', Space: 'Space', PageDown: 'PgDn', PageUp: 'PgUp', Enter: 'Enter' };
  return el('span', { class: 'combo' }, ...combo.split('+').map((k) => el('kbd', {}, names[k] ?? k)));
}

function build(): HTMLDialogElement {
  const node = el('dialog', { id: 'shortcuts', class: 'tool-dialog', 'aria-labelledby': 'shortcuts-title' });
  node.addEventListener('click', (e) => { if (e.target === node) node.close(); });
  document.body.append(node);
  return node;
}

/** Open (or close) the overlay listing every shortcut of the page. */
export function toggleHelp(): void {
  dialog ??= build();
  if (dialog.open) { dialog.close(); return; }
  const groups = new Map<string, Shortcut[]>();
  for (const s of shortcuts) {
    const g = s.group ?? 'General';
    groups.set(g, [...(groups.get(g) ?? []), s]);
  }
  dialog.replaceChildren(
    el('h2', { id: 'shortcuts-title', tabindex: '-1', autofocus: true }, 'Keyboard shortcuts'),
    el('div', { class: 'shortcut-groups' }, ...[...groups].map(([name, list]) => el('section', {},
      el('h3', {}, name),
      el('dl', {}, ...list.flatMap((s) => [
        el('dt', {}, ...(s.shown ? [el('kbd', {}, s.shown)]
          : s.keys.flatMap((k, i) => (i ? [el('span', { class: 'or' }, ' or '), keyLabel(k)] : [keyLabel(k)])))),
        el('dd', {}, s.label)]))))),
    el('form', { method: 'dialog', class: 'row end' }, el('button', { class: 'button primary', value: 'close' }, 'Close')),
  );
  dialog.showModal();
  dialog.scrollTop = 0; // open at the top (keys 0-4 first), not where the focused Close button is
  dialog.querySelector<HTMLElement>('.shortcut-groups')?.scrollTo({ top: 0 });
}
