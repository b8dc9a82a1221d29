// Fine classes, in the project settings (admins): a list of fine names under each coarse class,
// saved with the project's version (PATCH /api/projects/{project}); a stale edit is a 409 that
// says so and reloads the lists. The expert tools offer these names beside the coarse class.

import { ApiError, ConflictError, api, type Project } from '../shared/client';
import { el, fill } from '../shared/util';

function parse(text: string): string[] {
  const names = text.split(/[\n,]/).map((n) => n.trim()).filter((n) => n.length > 0);
  return [...new Set(names)];
}

export class FinePanel {
  readonly node: HTMLElement;
  private readonly body = el('div', { class: 'fine-body' });
  private readonly status = el('p', { id: 'fine-status', class: 'status', role: 'status', 'aria-live': 'polite' });

  constructor(private project: Project, private readonly admin: boolean) {
    this.node = el('section', { class: 'panel', id: 'fine-classes', 'aria-labelledby': 'fine-title' },
      el('h2', { id: 'fine-title' }, 'Fine classes'),
      el('p', { class: 'sub' }, admin ? 'Names under each coarse class, one a line (or separated by commas). Experts pick them beside the coarse class.'
        : 'Names under each coarse class (an admin edits them).'),
      this.body, this.status);
    this.draw();
  }

  setProject(project: Project): void {
    this.project = project;
    this.draw();
  }

  private draw(): void {
    const fine = this.project.fine_classes ?? {};
    const coarse = this.project.classes.filter((c) => c.id !== 0);
    if (!this.admin) {
      fill(this.body, el('dl', { class: 'fine-list' }, ...coarse.flatMap((c) => [
        el('dt', {}, c.name), el('dd', {}, (fine[c.name] ?? []).join(', ') || '—')])));
      return;
    }
    const areas = new Map<string, HTMLTextAreaElement>();
    const rows = coarse.map((c) => {
      const area = el('textarea', { rows: 2, 'data-class': c.name, 'aria-label': `Fine classes of ${c.name}`,
        placeholder: 'none' }, (fine[c.name] ?? []).join('\n'));
      areas.set(c.name, area);
      return el('label', { class: 'fine-row' }, el('span', { class: 'chip', style: `background:${c.color}` }),
        el('span', { class: 'name' }, c.name), area);
    });
    const save = el('button', { type: 'button', class: 'button primary small', id: 'fine-save' }, 'Save fine classes');
    save.addEventListener('click', () => { void this.save(areas, save); });
    fill(this.body, el('div', { class: 'fine-rows' }, ...rows), save);
  }

  private async save(areas: Map<string, HTMLTextAreaElement>, button: HTMLButtonElement): Promise<void> {
    const wanted: Record<string, string[]> = {};
    for (const [name, area] of areas) {
      const names = parse(area.value);
      if (names.length) wanted[name] = names;
    }
    button.disabled = true;
    try {
      await api.patch('/api/projects/{project}', { path: { project: this.project.id },
        body: { version: this.project.version, fine_classes: wanted } });
      this.project = await api.get('/api/projects/{project}', { path: { project: this.project.id } });
      this.status.textContent = 'Saved: the expert tools offer these fine classes now.';
      this.status.dataset.kind = 'ok';
      this.draw();
    } catch (error) {
      if (error instanceof ConflictError) {
        this.project = await api.get('/api/projects/{project}', { path: { project: this.project.id } });
        this.draw();
        this.status.textContent = `Not saved: ${error.who()} changed the project meanwhile; here are its lists now.`;
      } else {
        this.status.textContent = `Not saved: ${error instanceof ApiError ? error.detail : String(error)}`;
      }
      this.status.dataset.kind = 'error';
    } finally {
      button.disabled = false;
    }
  }
}
