// The keys of /annotate/ (listed by `?`): a digit labels the selection, r/u, selecting, moving.

import { enlargedOpen } from '../shared/enlarge';
import { addShortcuts } from '../shared/keys';
import { enlargeMask, grid } from './cards';
import { status } from './notes';
import { nextGroup, selectAll, stepGroup, turn } from './open';
import { assign, sendRestToRefine } from './save';
import { classes, page } from './state';
import { ui } from './ui';
import { undo } from './undo';
import { queueWrite, writesPending } from './writes';

function arrow(event: KeyboardEvent, extend: boolean): void {
  const d: Record<string, [number, number]> = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
  const [dx, dy] = d[event.key] ?? [0, 0];
  grid.step(dx, dy, extend);
}

export function addAnnotateShortcuts(): void {
  const open = () => Boolean(page.group);
  addShortcuts(
    ...classes().map((c) => ({ keys: [String(c.id)], label: c.id === 0 ? 'Label the selection Unknown (takes labels back)'
      : `Label the selection ${c.name}`, group: 'Label', when: open, run: () => {
      const chosen = writesPending() ? [...grid.selected] : undefined; // what was selected when the key was pressed
      queueWrite(`${c.name} (${c.id})`, () => assign(c.id, null, chosen), (t) => status(t));
    } })),
    { keys: ['r'], label: 'Send the rest of the group (its open masks) to refinement (u takes it back)', group: 'Label', when: open,
      run: () => { queueWrite('Rest to refine (r)', sendRestToRefine, (t) => status(t)); } },
    { keys: ['u', 'Ctrl+z'], label: 'Undo the last decision or send to refinement on this group', group: 'Label', when: open,
      run: () => { queueWrite('Undo (u)', () => undo(), (t) => status(t)); } },
    { keys: ['v'], label: 'Enlarge the focused thumbnail with its surroundings (or click its ⤢)', group: 'Select', when: open,
      run: () => { const m = grid.masks[grid.focus]; if (m && !enlargedOpen()) enlargeMask(m); } },
    { keys: ['a', 'Ctrl+a'], label: 'Select all masks of the group', group: 'Select', when: open, run: () => { void selectAll(); } },
    { keys: ['Escape'], label: 'Unselect all', group: 'Select', run: () => grid.clear() },
    { keys: ['i'], label: 'Invert the selection on this page', group: 'Select', when: open,
      run: () => grid.masks.forEach((m) => grid.set([m.id], !grid.selected.has(m.id))) },
    { keys: ['Space', 'Enter'], label: 'Select or unselect the focused mask', group: 'Select', when: open,
      run: () => grid.toggleFocused() },
    { keys: ['ArrowLeft', 'ArrowRight', 'ArrowUp', 'ArrowDown'], shown: '← → ↑ ↓', label: 'Move the focus in the grid', group: 'Select',
      when: open, run: (e) => arrow(e, false) },
    { keys: ['Shift+ArrowLeft', 'Shift+ArrowRight', 'Shift+ArrowUp', 'Shift+ArrowDown'], shown: 'Shift + ← → ↑ ↓',
      label: 'Move the focus, selecting on the way', group: 'Select', when: open, run: (e) => arrow(e, true) },
    { keys: ['Shift+click'], shown: 'Shift + click', label: 'Select every mask from the last one clicked (mouse)', group: 'Select', when: () => false, run: () => undefined },
    { keys: ['drag'], shown: 'drag a box', label: 'Draw a box over masks to select them (Alt: unselect)', group: 'Select', when: () => false, run: () => undefined },
    { keys: ['n'], label: 'Next group to label (leased to you)', group: 'Move', run: () => { void nextGroup(); } },
    { keys: ['/'], label: 'Find a group of the neighbourhood (by key or predicted class)', group: 'Move',
      run: () => { ui.groupQ.focus(); ui.groupQ.select(); } },
    { keys: ['g'], label: 'Jump to a neighbourhood by name (Enter opens it)', group: 'Move',
      run: () => { ui.hoodQ.focus(); ui.hoodQ.select(); } },
    { keys: ['j', 'PageDown'], label: 'Next group of the list', group: 'Move', when: open, run: () => { void stepGroup(1); } },
    { keys: ['k', 'PageUp'], label: 'Previous group of the list', group: 'Move', when: open, run: () => { void stepGroup(-1); } },
    { keys: [']'], label: 'Next page of masks', group: 'Move', when: open, run: () => turn(1) },
    { keys: ['['], label: 'Previous page of masks', group: 'Move', when: open, run: () => turn(-1) },
  );
}
