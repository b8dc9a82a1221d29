// /assess: label the accuracy sample of the map, one point at a time, blind. The point's map
// class is neither shown nor sent by the API until you labelled it; keys 1-9 give a class,
// 0 "can't tell", u undoes your last label. A share of points comes back to a second expert.

import { api, ConflictError, type Project, type Schemas } from '../shared/client';
import { addShortcuts } from '../shared/keys';
import { startTool } from '../shared/page';
import { el, fill } from '../shared/util';
import { PointViews } from './views';
import './assess.css';

type Sample = Schemas['SampleOut'];
type Point = Schemas['PointOut'];
type Saved = Schemas['LabelSaved'];

const views = new PointViews(el('div', { id: 'view-close', class: 'view' }), el('div', { id: 'view-context', class: 'view' }),
  el('p', { id: 'views-note', class: 'note' }));

class AssessPage {
  project: Project;
  sample: Sample | null = null;
  point: Point | null = null;
  last: Saved | null = null;
  readonly status = el('p', { id: 'assess-status', role: 'status', 'aria-live': 'polite' });
  readonly picker = el('select', { id: 'sample', 'aria-label': 'Sample' });
  readonly info = el('div', { id: 'sample-info' });
  readonly pointBox = el('div', { id: 'point', class: 'point' });
  readonly comment = el('input', { id: 'comment', type: 'text', placeholder: 'Comment (optional)', maxlength: 2000 });
  readonly classBox = el('div', { id: 'classes', class: 'classes' });
  readonly revealed = el('p', { id: 'revealed', class: 'revealed' });

  constructor(project: Project) {
    this.project = project;
    this.picker.addEventListener('change', () => void this.pick(Number(this.picker.value)));
  }

  node(): HTMLElement {
    return el('main', { id: 'assess', class: 'assess-page' },
      el('h1', { class: 'sr-only' }, 'Assess'),
      el('section', { class: 'left' },
        el('label', { class: 'field' }, 'Sample ', this.picker), this.info,
        views.close, views.context, views.note),
      el('section', { class: 'right' }, this.pointBox, this.classBox,
        el('div', { class: 'row' }, el('button', { type: 'button', id: 'cant-tell', class: 'button',
          onclick: () => void this.label(null) }, "Can't tell (0)"), this.comment),
        el('div', { class: 'row' }, el('button', { type: 'button', id: 'undo', class: 'button ghost',
          onclick: () => void this.undo() }, 'Undo my last label (u)'),
        el('button', { type: 'button', id: 'next', class: 'button ghost', onclick: () => void this.next() }, 'Next point')),
        this.revealed, this.status));
  }

  /** The scheme's classes on keys 1-9 (no "unknown" or no-data entry). */
  keyed(): Project['classes'] {
    return this.project.classes.filter((c) => c.id >= 1 && c.id <= 255).slice(0, 9);
  }

  async load(project: Project): Promise<void> {
    this.project = project;
    fill(this.classBox, ...this.keyed().map((c, i) => el('button', { type: 'button', class: 'class',
      'data-class': c.id, title: `${c.name} (${i + 1})`, onclick: () => void this.label(c.id) },
    el('span', { class: 'swatch', style: `background:${c.color}` }), `${i + 1} ${c.name}`)));
    void views.open(project.city);
    const list = await api.get('/api/assessments', { query: { city: project.city ?? undefined,
      layer: project.layer ?? undefined } });
    fill(this.picker, ...list.items.map((s) => el('option', { value: s.id },
      `#${s.id} · ${s.points} points · version ${s.map_version}${s.independent ? '' : ' (not independent)'}`)));
    if (list.items.length === 0) {
      fill(this.info, el('p', { class: 'note' }, 'No sample of this map yet: a reviewer draws one with ',
        el('code', {}, 'mcae assess design'), ' or from the dashboard.'));
      return;
    }
    await this.pick(list.items[0].id);
  }

  async pick(id: number): Promise<void> {
    this.picker.value = String(id);
    this.last = null;
    await this.next(id);
  }

  showSample(sample: Sample): void {
    this.sample = sample;
    fill(this.info, el('p', {}, `${sample.labelled} of ${sample.points} points labelled, ${sample.cant_tell} can't tell`,
      sample.response === 'reference' ? ' · simulated response (reference raster)' : ''),
    sample.independent ? null : el('p', { class: 'warn', id: 'dependent' }, sample.dependent_reason ?? 'not independent'));
  }

  private asked = 0;

  async next(id = this.sample?.id ?? Number(this.picker.value)): Promise<void> {
    const ask = ++this.asked;
    const out = await api.post('/api/assessments/{sample}/next', { path: { sample: id } });
    if (ask !== this.asked) return; // a newer question was asked meanwhile
    this.showSample(out.sample);
    this.point = out.point ?? null;
    this.revealed.textContent = '';
    this.comment.value = '';
    if (!this.point) {
      fill(this.pointBox, el('p', { id: 'done' }, 'Nothing left for you to label in this sample.'));
      document.body.dataset.point = '';
      return;
    }
    const p = this.point;
    document.body.dataset.point = String(p.seq);
    document.body.dataset.pass = String(p.pass_no ?? 1);
    fill(this.pointBox, el('h2', {}, `Point ${p.seq}`),
      el('p', {}, `${p.lat.toFixed(6)}, ${p.lon.toFixed(6)} · unit ${p.unit_m} m`),
      p.pass_no === 2 ? el('p', { class: 'second', id: 'second' }, 'Second opinion: another expert labelled this point.') : null);
    views.show(p.lon, p.lat, p.unit_m);
  }

  async label(classId: number | null): Promise<void> {
    const p = this.point;
    if (!p) return;
    try {
      const saved = await api.post('/api/assessments/{sample}/points/{seq}/labels', {
        path: { sample: p.sample, seq: p.seq },
        body: { class_id: classId, cant_tell: classId === null, comment: this.comment.value || null,
          version: p.version, pass_no: p.pass_no ?? 1 } });
      this.last = saved;
      const name = (id: number | null | undefined) => this.project.classes.find((c) => c.id === id)?.name ?? String(id);
      const given = saved.label.cant_tell ? "can't tell" : name(saved.label.class_id);
      await this.next();
      this.status.textContent = `Point ${p.seq}: ${given} saved.`;
      const wrong = !saved.label.cant_tell && saved.point.map_class !== saved.label.class_id;
      fill(this.revealed, `Point ${p.seq}: you said ${given}; the map says ${name(saved.point.map_class)}.`,
        wrong ? el('button', { type: 'button', class: 'button ghost', id: 'use-as-correction',
          title: 'Sample points are not training data: the sample stops counting as an independent assessment',
          onclick: () => void this.useAsCorrection(p.sample, p.seq) }, 'Use as a correction…') : null);
      this.revealed.dataset.mapClass = String(saved.point.map_class ?? '');
    } catch (error) {
      this.status.textContent = error instanceof ConflictError ? `Not saved: ${error.detail}`
        : `Not saved: ${error instanceof Error ? error.message : String(error)}`;
      if (error instanceof ConflictError) await this.next();
    }
  }

  /** Record that a point becomes training data: the sample is then no longer independent. */
  async useAsCorrection(sample: number, seq: number): Promise<void> {
    if (!window.confirm('Sample points are not training data. Using this point as a correction ends this sample\'s '
      + 'independence: its accuracy no longer counts and a new sample is needed. Go on?')) return;
    try {
      const out = await api.post('/api/assessments/{sample}/points/{seq}/used-for-training', { path: { sample, seq } });
      this.showSample(out);
      this.status.textContent = `Point ${seq} recorded as a correction; correct its mask in Refine. `
        + 'This sample is no longer independent: draw a new one.';
    } catch (error) {
      this.status.textContent = `Not recorded: ${error instanceof Error ? error.message : String(error)}`;
    }
  }

  async undo(): Promise<void> {
    const last = this.last;
    if (!last || !this.sample) { this.status.textContent = 'Nothing to undo.'; return; }
    try {
      await api.post('/api/assessments/{sample}/labels/{label}/undo', { path: { sample: this.sample.id,
        label: last.label.id } });
      this.last = null;
      await this.next();
      this.status.textContent = `Label of point ${last.point.seq} undone.`;
      this.revealed.textContent = '';
    } catch (error) {
      this.status.textContent = `Not undone: ${error instanceof Error ? error.message : String(error)}`;
    }
  }
}

async function main(): Promise<void> {
  let page: AssessPage | null = null;
  const { nav } = await startTool('assess', (project) => { void page?.load(project); });
  page = new AssessPage(nav.project);
  const p = page;
  document.body.append(p.node());
  addShortcuts(
    ...[1, 2, 3, 4, 5, 6, 7, 8, 9].map((k) => ({ keys: [String(k)], label: `Class ${k}`, group: 'Assess',
      run: () => { const c = p.keyed()[k - 1]; if (c) void p.label(c.id); } })),
    { keys: ['0'], label: "Can't tell", group: 'Assess', run: () => void p.label(null) },
    { keys: ['u'], label: 'Undo my last label', group: 'Assess', run: () => void p.undo() },
  );
  await p.load(nav.project);
  document.body.classList.add('assess-ready');
}

main().catch(() => undefined);
