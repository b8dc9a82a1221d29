// Published versions of the project's layer: every map a rebuild published stays on the
// server; an admin brings a previous one back (as a new version: old tile URLs answer 410).

import { api, type Project, type Schemas } from '../shared/client';
import { el, flash } from '../shared/util';

type Versions = Schemas['LayerVersionsOut'];

export class VersionsPanel {
  readonly node: HTMLElement;
  onRollback: () => void = () => undefined;
  private readonly body: HTMLElement;
  private readonly message: HTMLElement;

  constructor(private project: Project, private readonly isAdmin: boolean) {
    this.body = el('div', { id: 'versions-body' });
    this.message = el('p', { id: 'versions-message', class: 'status', role: 'status', 'aria-live': 'polite' });
    this.node = el('section', { id: 'versions-panel', class: 'panel', 'aria-labelledby': 'versions-title' },
      el('h2', { id: 'versions-title' }, 'Published versions'), this.body, this.message);
  }

  setProject(project: Project): void {
    this.project = project;
    void this.load();
  }

  async load(): Promise<void> {
    const { city, layer } = this.project;
    if (!city) {
      this.body.replaceChildren(el('p', { class: 'note' }, 'The project publishes to no city layer.'));
      return;
    }
    let found: Versions;
    try {
      found = await api.get('/api/cities/{city}/layers/{layer}/versions', { path: { city, layer } });
    } catch {
      this.body.replaceChildren(el('p', { class: 'note' }, `No published ${layer} layer of ${city} yet.`));
      return;
    }
    const rows = found.versions.map((v) => {
      const cells = [
        el('td', { class: 'num' }, String(v.number)), el('td', {}, el('code', {}, v.version ?? '?')),
        el('td', {}, new Date(v.published_at).toLocaleString()), el('td', {}, v.by ?? ''), el('td', {}, v.note),
      ];
      let action: HTMLElement = el('td', {}, v.current ? 'current' : '');
      if (this.isAdmin && !v.current) {
        const button = el('button', { type: 'button', class: 'button rollback', 'data-number': v.number },
          'Roll back to this');
        button.addEventListener('click', () => void this.rollback(v.number));
        action = el('td', {}, button);
      }
      return el('tr', { 'data-number': v.number, 'data-current': String(v.current) }, ...cells, action);
    });
    this.body.replaceChildren(rows.length ? el('table', { class: 'table', id: 'versions' },
      el('thead', {}, el('tr', {}, ...['#', 'Version (v=)', 'Published', 'By', 'Note', ''].map((h) =>
        el('th', { scope: 'col' }, h)))), el('tbody', {}, ...rows))
      : el('p', { class: 'note' }, found.current ? 'No versions recorded yet: the next rebuild starts the list.'
        : `Nothing published as ${city}/${layer} yet.`));
  }

  private async rollback(number: number): Promise<void> {
    const { city, layer } = this.project;
    if (!city || !window.confirm(`Publish version ${number} of ${city}/${layer} again, as a new version?`)) return;
    try {
      await api.post('/api/cities/{city}/layers/{layer}/rollback', { path: { city, layer },
        body: { version: String(number) } });
      flash(this.message, `Version ${number} is published again, as a new version.`, 'ok');
      this.onRollback();
    } catch (error) {
      flash(this.message, `No rollback: ${error instanceof Error ? error.message : String(error)}`, 'error');
    }
    await this.load();
  }
}
