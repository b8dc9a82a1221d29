// The class buttons of the side panel: one per coarse class (its digit), and the fine classes
// of the class last pointed at.

import { el } from '../shared/util';
import { grid } from './cards';
import { assign } from './save';
import { status } from './notes';
import { classes, className, page } from './state';
import { ui } from './ui';
import { queueWrite } from './writes';

export function drawClassButtons(): void {
  const list = [...classes()].sort((a, b) => a.id - b.id);
  ui.coarse.replaceChildren(...list.map((c) => el('button', {
    type: 'button', class: 'button class-button', 'data-class': c.id,
    title: c.id === 0 ? 'Unknown: takes a label back (0)' : `${c.name} (${c.id})`,
    onclick: () => { grid.moveFocus(grid.focus, false); queueWrite(c.name, () => assign(c.id), (t) => status(t)); },
    onpointerenter: () => armFine(c.id), onfocus: () => armFine(c.id),
  }, el('span', { class: 'chip', style: `background:${c.id === 0 ? 'transparent' : c.color}` }),
  el('span', { class: 'name' }, c.name), el('kbd', {}, String(c.id)))));
  ui.fineOf.replaceChildren(...list.filter((c) => c.id > 0).map((c) => el('option', { value: c.id }, c.name)));
  armFine(page.group?.pred_class || 5);
}

/** Show the fine classes of `classId`. */
export function armFine(classId: number): void {
  if (classId === 0) return;
  page.fineOf = classId;
  ui.fineOf.value = String(classId);
  const name = className(classId);
  const fine = page.project.fine_classes[name] ?? [];
  ui.fine.replaceChildren(...(fine.length ? fine.map((f) => el('button', {
    type: 'button', class: 'button class-button fine-button', 'data-fine': f, title: `${name}, ${f}`,
    onclick: () => { grid.moveFocus(grid.focus, false); queueWrite(f, () => assign(classId, f), (t) => status(t)); },
  }, el('span', { class: 'name' }, f))) : [el('p', { class: 'note' }, `No fine classes for ${name}.`)]));
}
