// The double-labelled groups: Cohen's kappa between the two labellings, and the masks where
// they disagree, each settled by a reviewer's correction (the final class of the mask).

import { api, ApiError, ConflictError, ImageSet, type Project, type Schemas } from '../shared/client';
import { el, flash } from '../shared/util';
import { classesOf, classPill, classTag, errorText, thumbPath, type ClassInfo } from './common';

type Agreement = Schemas['AgreementOut'];
type Disagreement = Schemas['Disagreement'];

interface Side {
  decision: number;
  class_id: number;
  class: string;
  author: string | null;
}

const SHOWN = 30;

function side(value: Record<string, unknown>): Side {
  return { decision: Number(value.decision), class_id: Number(value.class_id), class: String(value.class_name),
    author: value.author === null || value.author === undefined ? null : String(value.author) };
}

export class AgreementPanel {
  readonly node: HTMLElement;
  private readonly stats: HTMLElement;
  private readonly list: HTMLElement;
  private readonly status: HTMLElement;
  private readonly images = new ImageSet();
  private classes: ClassInfo[];
  private shown = SHOWN;
  private data: Agreement | null = null;

  constructor(private project: Project) {
    this.classes = classesOf(project);
    this.stats = el('dl', { id: 'agreement-stats', class: 'stats' });
    this.list = el('ol', { id: 'disagreements', class: 'disagreements' });
    this.status = el('p', { id: 'agreement-status', class: 'status', role: 'status', 'aria-live': 'polite' });
    this.node = el('section', { id: 'agreement', class: 'panel agreement-panel', 'aria-labelledby': 'agreement-title' },
      el('div', { class: 'panel-head' }, el('h2', { id: 'agreement-title' }, 'Double-labelled groups'),
        el('button', { type: 'button', class: 'button small', id: 'agreement-reload', title: 'Reload the agreement',
          onclick: () => void this.load() }, 'Reload')),
      this.stats, this.status, this.list);
  }

  setProject(project: Project): void {
    this.project = project;
    this.classes = classesOf(project);
  }

  async load(): Promise<void> {
    try {
      this.data = await api.get('/api/projects/{project}/agreement', { path: { project: this.project.id } });
    } catch (error) {
      this.stats.replaceChildren();
      this.list.replaceChildren();
      flash(this.status, error instanceof ApiError && error.status === 403
        ? 'The agreement is for reviewers.' : `Could not load the agreement: ${errorText(error)}`, 'error');
      return;
    }
    this.draw();
    this.node.dataset.loads = String(Number(this.node.dataset.loads ?? 0) + 1);
  }

  private draw(): void {
    const a = this.data;
    if (!a) return;
    const item = (term: string, value: string | HTMLElement, id: string) =>
      [el('dt', {}, term), el('dd', { id }, value)];
    this.stats.replaceChildren(
      ...item("Cohen's kappa", a.kappa === null || a.kappa === undefined ? '—' : a.kappa.toFixed(3), 'kappa'),
      ...item('Agreeing masks', `${a.agreeing} of ${a.compared_masks}`
        + (a.compared_masks ? ` (${Math.round((100 * a.agreeing) / a.compared_masks)} %)` : ''), 'agreeing'),
      ...item('Double groups', String(a.double_groups), 'double-groups'),
      ...item('Annotators', a.annotators.length ? a.annotators.join(', ') : '—', 'annotators'));
    this.images.clear();
    if (!a.disagreements.length) {
      flash(this.status, a.compared_masks ? 'The two labellings agree on every mask.' : 'No mask has been labelled twice yet.', 'info');
      this.list.replaceChildren();
      return;
    }
    flash(this.status, `${a.disagreements.length} mask${a.disagreements.length === 1 ? '' : 's'} where the labellings differ: `
      + 'choose the final class.', 'info');
    const rows = a.disagreements.slice(0, this.shown).map((d) => this.row(d));
    this.list.replaceChildren(...rows);
    if (a.disagreements.length > this.shown) {
      this.list.append(el('li', { class: 'more-row' }, el('button', { type: 'button', class: 'button small', onclick: () => {
        this.shown += SHOWN; this.draw();
      } }, `Show ${Math.min(SHOWN, a.disagreements.length - this.shown)} more`)));
    }
  }

  private row(d: Disagreement): HTMLElement {
    const first = side(d.first);
    const second = side(d.second);
    const img = el('img', { class: 'thumb', width: 72, height: 72, alt: `mask ${d.mask_id} of ${d.patch}`, loading: 'lazy' });
    void this.images.into(img, `d${d.mask}`, thumbPath(this.project.id, d.patch, d.mask_id, 96)).catch(() => undefined);
    const status = el('span', { class: 'status settle-status', role: 'status' });
    const other = el('select', { class: 'settle-other', 'aria-label': `Another class for mask ${d.mask_id} of ${d.patch}` },
      el('option', { value: '' }, 'other…'),
      ...this.classes.filter((c) => c.id > 0).map((c) => el('option', { value: c.id }, c.name)));
    const node = el('li', { class: 'disagreement', 'data-mask': d.mask, 'data-patch': d.patch, 'data-mask-id': d.mask_id },
      img,
      el('div', { class: 'dis-body' },
        el('div', { class: 'dis-where' }, el('strong', {}, `${d.patch} #${d.mask_id}`),
          el('span', { class: 'note' }, ` group ${d.group ?? '?'} of ${d.neighbourhood}`)),
        el('div', { class: 'dis-sides' },
          el('span', { class: 'dis-side first' }, el('span', { class: 'who' }, `${first.author ?? '?'}:`), classTag(this.classes, first.class_id, first.class)),
          el('span', { class: 'vs' }, 'vs'),
          el('span', { class: 'dis-side second' }, el('span', { class: 'who' }, `${second.author ?? '?'}:`), classTag(this.classes, second.class_id, second.class))),
        el('div', { class: 'dis-actions row' }, el('span', { class: 'note' }, 'Final:'),
          ...[first, second].filter((s, i, all) => all.findIndex((x) => x.class_id === s.class_id) === i).map((s) =>
            el('button', { type: 'button', class: 'button small settle', 'data-class': s.class_id,
              title: `Settle: the mask is ${s.class} (a correction)`, onclick: () => void this.settle(d, s.class_id, node, status) },
            classPill(this.classes, s.class_id))),
          other, status)));
    void this.checkSettled(d, node, status);
    other.addEventListener('change', () => {
      if (other.value) void this.settle(d, Number(other.value), node, status);
    });
    return node;
  }

  /** A mask corrected after its two labellings is settled (the service says so in `settled`). */
  private async checkSettled(d: Disagreement, node: HTMLElement, status: HTMLElement): Promise<void> {
    if (d.settled) {
      node.classList.add('settled');
      node.dataset.settled = String(d.settled.class_id);
      flash(status, `Settled: ${d.settled.class_name} by ${d.settled.by} (correction #${d.settled.decision})`, 'ok');
      return;
    }
    try {
      const mask = await api.get('/api/projects/{project}/patches/{patch}/masks/{mask}',
        { path: { project: this.project.id, patch: d.patch, mask: d.mask_id } });
      if (mask.via !== 'mask' || mask.class_id === null || node.classList.contains('settled')) return;
      node.classList.add('settled');
      node.dataset.settled = String(mask.class_id);
      flash(status, `Settled: ${mask.class_name ?? mask.class_id} (correction #${mask.decision_id ?? '?'})`, 'ok');
    } catch { /* the buttons still settle it */ }
  }

  /** A correction of the mask (with the version it has now): the reviewer's final class. */
  private async settle(d: Disagreement, classId: number, node: HTMLElement, status: HTMLElement): Promise<void> {
    node.querySelectorAll<HTMLButtonElement | HTMLSelectElement>('button, select').forEach((b) => { b.disabled = true; });
    flash(status, 'Saving…', 'info');
    const project = this.project.id;
    try {
      const mask = await api.get('/api/projects/{project}/patches/{patch}/masks/{mask}',
        { path: { project, patch: d.patch, mask: d.mask_id } });
      await api.post('/api/projects/{project}/patches/{patch}/corrections', { path: { project, patch: d.patch },
        body: { rows: [{ mask: d.mask_id, class: classId, version: mask.version }] } });
      const name = this.classes.find((c) => c.id === classId)?.name ?? String(classId);
      node.classList.add('settled');
      node.dataset.settled = String(classId);
      flash(status, `Settled: ${name}`, 'ok');
    } catch (error) {
      node.querySelectorAll<HTMLButtonElement | HTMLSelectElement>('button, select').forEach((b) => { b.disabled = false; });
      flash(status, error instanceof ConflictError ? `Not saved: ${error.who()}` : `Not saved: ${errorText(error)}`, 'error');
    }
  }
}
