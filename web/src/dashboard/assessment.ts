// The dashboard's map accuracy panel: the latest assessment sample of the project's map, its
// error-adjusted figures with 95 % intervals, the experts' agreement, and what to do next
// (draw a sample, label it, or draw a new one when it stopped being independent).

import { api, sendJson, type Job, type Project, type Schemas } from '../shared/client';
import { el, fill } from '../shared/util';

type Report = Schemas['ReportOut'];

const pc = (v: number | null | undefined) => (v === null || v === undefined ? '–' : `${(100 * v).toFixed(1)} %`);
const ha = (v: number | null | undefined) => (v === null || v === undefined ? '–'
  : `${(v / 1e4).toLocaleString(undefined, { maximumFractionDigits: 1 })} ha`);

export class AssessmentPanel {
  readonly body = el('div', { id: 'assessment-body' });
  readonly node = el('section', { class: 'panel', id: 'assessment-panel', 'aria-labelledby': 'assessment-title' },
    el('h2', { id: 'assessment-title' }, 'Map accuracy (stratified sample, 95 % CI)'), this.body);

  constructor(private project: Project, private readonly canDraw: boolean) {}

  setProject(project: Project): void { this.project = project; }

  async load(): Promise<void> {
    const p = this.project;
    try {
      const list = await api.get('/api/assessments', { query: { city: p.city ?? undefined, layer: p.layer ?? undefined } });
      const sample = list.items[0];
      if (!sample) {
        fill(this.body, el('p', { id: 'assessment-none' }, 'No accuracy sample of this map yet. ',
          this.canDraw ? this.drawButton('Draw a sample') : 'A reviewer draws one.'));
        return;
      }
      const report: Report = await api.get('/api/assessments/{sample}/report', { path: { sample: sample.id } });
      const classes = new Map(p.classes.map((c) => [String(c.id), c.name]));
      const oa = report.overall_accuracy;
      fill(this.body,
        sample.independent ? null : el('p', { class: 'warn', id: 'assessment-dependent' },
          `${sample.dependent_reason ?? 'This sample is no longer independent'} `,
          this.canDraw ? this.drawButton('Draw a new sample') : null),
        el('p', { id: 'assessment-oa' }, el('strong', {}, `OA ${pc(oa.estimate)} ± ${pc(oa.ci95)}`),
          ` · ${report.n} of ${sample.points} points labelled · ${report.cant_tell} can't tell · map version `,
          el('code', {}, String(report.version)),
          report.simulated ? ' · simulated response (reference raster)' : '',
          report.agreement && (report.agreement as { pairs?: number }).pairs
            ? ` · second expert agrees on ${pc((report.agreement as { agreement: number }).agreement)} of ${(report.agreement as { pairs: number }).pairs}`
            : ''),
        el('table', { class: 'assessment-table' },
          el('thead', {}, el('tr', {}, ...['Class', "User's", "Producer's", 'Map area', 'Estimated area (95 % CI)']
            .map((t) => el('th', {}, t)))),
          el('tbody', {}, ...report.classes.map((k) => el('tr', {},
            el('td', {}, classes.get(k) ?? k),
            el('td', {}, `${pc(report.users_accuracy[k]?.estimate)} ± ${pc(report.users_accuracy[k]?.ci95)}`),
            el('td', {}, `${pc(report.producers_accuracy[k]?.estimate)} ± ${pc(report.producers_accuracy[k]?.ci95)}`),
            el('td', {}, ha(report.area_m2[k]?.map)),
            el('td', {}, `${ha(report.area_m2[k]?.estimate)} ± ${ha(report.area_m2[k]?.ci95)}`))))),
        el('p', {}, el('a', { href: `/assess/?project=${encodeURIComponent(p.id)}` }, 'Label points on the Assess page')));
    } catch (error) {
      fill(this.body, el('p', { class: 'warn' }, `Could not load the assessment: ${error instanceof Error ? error.message : String(error)}`));
    }
  }

  private drawButton(label: string): HTMLElement {
    return el('button', { type: 'button', class: 'button', id: 'assessment-draw', onclick: () => void this.draw() }, label);
  }

  private async draw(): Promise<void> {
    const p = this.project;
    if (!p.city) return;
    try {
      fill(this.body, el('p', { id: 'assessment-drawing' }, 'Drawing a sample (a pass over the whole map)…'));
      let job = await sendJson<Job>('POST', '/api/assessments', { body: { city: p.city, layer: p.layer ?? 'mcae',
        seed: Date.now() % 2_147_483_647, points: 600, min_per_class: 50, second_share: 0.1 } });
      while (job.state === 'queued' || job.state === 'running') {
        await new Promise((resolve) => { window.setTimeout(resolve, 500); });
        job = await sendJson<Job>('GET', `/api/jobs/${encodeURIComponent(job.id)}`);
      }
      if (job.state !== 'done') throw new Error(job.error ?? 'the job failed');
    } catch (error) {
      fill(this.body, el('p', { class: 'warn' }, `Could not draw a sample: ${error instanceof Error ? error.message : String(error)}`));
      return;
    }
    await this.load();
  }
}
