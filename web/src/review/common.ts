// What the review page's modules share: the project's classes as chips, and a thumbnail path.

import type { ClassInfo, Project } from '../shared/client';
import { el, inkOn } from '../shared/util';

export type { ClassInfo };

export function classesOf(project: Project): ClassInfo[] {
  return project.classes;
}

/** A class as a coloured chip and its name; null (undecided) as a dash. */
export function classTag(classes: ClassInfo[], id: number | null | undefined, name?: string | null): HTMLElement {
  if (id === null || id === undefined) return el('span', { class: 'cls none', title: 'undecided' }, '—');
  const found = classes.find((c) => c.id === id);
  const color = found?.color ?? '#888888';
  return el('span', { class: 'cls', 'data-class': id },
    el('span', { class: 'chip', style: `background:${color}`, 'aria-hidden': 'true' }),
    el('span', {}, name ?? found?.name ?? String(id)));
}

/** The same as a pill (for buttons and badges). */
export function classPill(classes: ClassInfo[], id: number): HTMLElement {
  const found = classes.find((c) => c.id === id);
  const color = found?.color ?? '#888888';
  return el('span', { class: 'pill', style: `background:${color};color:${inkOn(color)}` }, found?.name ?? String(id));
}

export function thumbPath(project: string, patch: string, mask: number, size = 96): string {
  return `/api/projects/${encodeURIComponent(project)}/patches/${encodeURIComponent(patch)}/masks/${mask}/thumbnail.png?size=${size}`;
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
