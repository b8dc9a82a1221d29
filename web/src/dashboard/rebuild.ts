// Retrain and rebuild: what the pending decisions change (masks, area, by class), the job's
// progress while it trains, maps and republishes, and the new layer version with a link to
// the viewer (which follows the new version by itself). Publishing needs the reviewer role;
// an annotator builds a preview map instead (the job's file, never the public layer).

import { api, ApiError, send, sendJson, type Job as JobOut, type Project, type Schemas } from '../shared/client';
import { el, flash } from '../shared/util';
import { area, num } from '../shared/svg';

type Preview = Schemas['RebuildPreview'];

/** A rebuild job: the generated JobOut, with what a rebuild's `result` holds. */
export type Job = JobOut & {
  result?: { layer_version?: string | null; model_version?: string; holdout_accuracy?: Record<string, number>;
    city?: string | null; layer?: string; trained_on_masks?: number; decisions?: number; published?: boolean;
    policy?: string } | null;
};

const POLL_MS = 500;
const jobKey = (project: string) => `mcae-rebuild-job:${project}`;

export class RebuildPanel {
  readonly node: HTMLElement;
  onDone: (job: Job) => void = () => undefined;
  private readonly preview: HTMLElement;
  private readonly button: HTMLButtonElement;
  private readonly progress: HTMLElement;
  private readonly fill: HTMLElement;
  private readonly message: HTMLElement;
  private readonly result: HTMLElement;
  private readonly dialog: HTMLDialogElement;
  private timer: number | undefined;
  private last: Preview | null = null;

  constructor(private project: Project, private readonly canRebuild: boolean, private readonly canPublish: boolean) {
    this.preview = el('div', { id: 'rebuild-preview', class: 'rebuild-preview' });
    this.button = el('button', { type: 'button', id: 'rebuild', class: 'button primary', disabled: !canRebuild,
      'data-publish': String(canPublish),
      title: canPublish ? 'Retrain on the reviewed decisions, rebuild the map and republish it'
        : canRebuild ? 'Build a preview map of every decision (not published: publishing needs a reviewer)'
          : 'Needs the annotator role' },
    canPublish ? 'Retrain and rebuild' : 'Build a preview map');
    this.fill = el('span', { class: 'fill', style: 'width:0%' });
    this.progress = el('div', { id: 'rebuild-progress', class: 'bar job', role: 'progressbar', 'aria-valuemin': 0,
      'aria-valuemax': 100, 'aria-valuenow': 0, 'aria-label': 'Rebuild progress', hidden: true }, this.fill);
    this.message = el('p', { id: 'rebuild-message', class: 'status', role: 'status', 'aria-live': 'polite' });
    this.result = el('div', { id: 'rebuild-result', class: 'rebuild-result' });
    this.dialog = el('dialog', { id: 'rebuild-dialog', class: 'tool-dialog', 'aria-labelledby': 'rebuild-dialog-title' });
    this.node = el('section', { id: 'rebuild-panel', class: 'panel rebuild-panel', 'aria-labelledby': 'rebuild-title' },
      el('div', { class: 'panel-head' }, el('h2', { id: 'rebuild-title' }, 'Retrain and rebuild the map'), this.button),
      this.preview, this.progress, this.message, this.result, this.dialog);
    this.button.addEventListener('click', () => void this.confirm());
  }

  setProject(project: Project): void {
    window.clearTimeout(this.timer);
    this.project = project;
    this.result.replaceChildren();
    this.message.textContent = '';
    this.progress.hidden = true;
    this.button.disabled = !this.canRebuild;
  }

  private previewTable(p: Preview): HTMLElement {
    const classes = this.project.classes.map((c) => ({ name: String(c.name), color: String(c.color) }));
    const entries = Object.entries(p.by_class).sort((a, b) => b[1] - a[1]);
    return el('div', { class: 'preview-body' },
      el('dl', { class: 'stats' },
        el('dt', {}, 'Masks that change'), el('dd', { id: 'preview-masks' }, num(p.masks_changed)),
        el('dt', {}, 'Area that changes'), el('dd', { id: 'preview-area', 'data-m2': p.area_m2 }, area(p.area_m2),
          ` (${((p.share ?? 0) * 100).toFixed(1)} % of the project's area)`),
        el('dt', {}, 'Decisions since the last build'), el('dd', { id: 'preview-decisions' },
          `${num(p.decisions_since_last_build)}${p.decisions_since_capped ? '+' : ''}`),
        el('dt', {}, 'Last build'), el('dd', {}, p.last_build ? new Date(p.last_build).toLocaleString() : 'never')),
      entries.length ? el('table', { class: 'table by-class', id: 'preview-classes' },
        el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'New class'), el('th', { scope: 'col', class: 'num' }, 'Masks'))),
        el('tbody', {}, ...entries.map(([name, n]) => el('tr', { 'data-class': name },
          el('th', { scope: 'row' }, el('span', { class: 'chip', style: `background:${classes.find((c) => c.name === name)?.color ?? '#888'}` }),
            ` ${name}`), el('td', { class: 'num' }, num(n))))))
        : el('p', { class: 'note' }, 'The map already shows every decision; a rebuild still retrains the classifier.'));
  }

  async loadPreview(): Promise<Preview | null> {
    try {
      this.last = await api.get('/api/projects/{project}/rebuild/preview', { path: { project: this.project.id } });
    } catch (error) {
      this.preview.replaceChildren(el('p', { class: 'note' }, error instanceof ApiError && error.status === 403
        ? 'The preview is for annotators.' : `No preview: ${error instanceof Error ? error.message : String(error)}`));
      return null;
    }
    this.preview.replaceChildren(this.previewTable(this.last));
    return this.last;
  }

  /** The button: the fresh preview in a dialog, then the job. */
  private async confirm(): Promise<void> {
    this.button.disabled = true;
    const p = await this.loadPreview();
    this.button.disabled = !this.canRebuild;
    if (!p) return;
    const start = el('button', { class: 'button primary', id: 'rebuild-start', value: 'start' },
      this.canPublish ? 'Start the rebuild' : 'Build the preview');
    const policy = this.project.publish_policy === 'any' ? 'every decision in force'
      : 'the accepted decisions and those of reviewers and admins';
    this.dialog.replaceChildren(
      el('h2', { id: 'rebuild-dialog-title' }, this.canPublish ? 'Retrain and rebuild?' : 'Build a preview map?'),
      this.canPublish
        ? el('p', {}, `The classifier is retrained on ${policy}, the map of ${this.project.city ?? 'the project'} `
          + `is rebuilt with them applied${this.project.city ? ` and published as a new version of its ${this.project.layer} layer` : ''}.`)
        : el('p', {}, 'A map of every decision in force, with the current model, for you to download. '
          + 'It is not published: the public map changes when a reviewer rebuilds it.'),
      this.previewTable(p),
      el('form', { method: 'dialog', class: 'row end' },
        el('button', { class: 'button', value: 'cancel', id: 'rebuild-cancel' }, 'Cancel'), start));
    this.dialog.onclose = () => { if (this.dialog.returnValue === 'start') void this.start(); };
    this.dialog.returnValue = '';
    this.dialog.showModal();
    start.focus();
  }

  async start(): Promise<void> {
    this.button.disabled = true;
    this.result.replaceChildren();
    this.show({ state: 'queued', progress: 0, message: 'starting' });
    try {
      const job = await api.post('/api/projects/{project}/rebuild', { path: { project: this.project.id },
        query: { publish: this.canPublish } }) as unknown as Job;
      window.sessionStorage.setItem(jobKey(this.project.id), job.id);
      this.follow(job);
    } catch (error) {
      this.button.disabled = !this.canRebuild;
      flash(this.message, `The rebuild did not start: ${error instanceof Error ? error.message : String(error)}`, 'error');
    }
  }

  /** A job started from this tab before a reload is followed again. */
  resume(): void {
    const id = window.sessionStorage.getItem(jobKey(this.project.id));
    if (!id) return;
    sendJson<Job>('GET', `/api/jobs/${encodeURIComponent(id)}`).then((job) => {
      if (job.state === 'queued' || job.state === 'running') { this.button.disabled = true; this.follow(job); }
    }).catch(() => window.sessionStorage.removeItem(jobKey(this.project.id)));
  }

  private show(job: Pick<Job, 'state' | 'progress' | 'message' | 'eta_s'>): void {
    const pct = Math.round(job.progress * 100);
    this.progress.hidden = false;
    this.progress.dataset.state = job.state;
    this.progress.setAttribute('aria-valuenow', String(pct));
    this.fill.style.width = `${pct}%`;
    flash(this.message, `${job.state === 'queued' ? 'Queued' : job.state === 'running' ? 'Running' : job.state === 'done'
      ? 'Done' : 'Failed'} · ${pct} %${etaText(job.eta_s)} · ${job.message ?? ''}`, job.state === 'failed' ? 'error' : job.state === 'done' ? 'ok' : 'info');
  }

  private follow(job: Job): void {
    const project = this.project.id;
    this.show(job);
    if (job.state === 'done' || job.state === 'failed') { this.finish(job); return; }
    this.timer = window.setTimeout(() => {
      sendJson<Job>('GET', job.links.self).then((next) => {
        if (project === this.project.id) this.follow(next);
      }).catch((error: unknown) => {
        flash(this.message, `Lost the job: ${error instanceof Error ? error.message : String(error)}`, 'error');
        this.button.disabled = !this.canRebuild;
      });
    }, POLL_MS);
  }

  /** The preview's file, fetched with the token (never in a URL) and saved. */
  private async download(job: Job): Promise<void> {
    try {
      const response = await send('GET', `/api/jobs/${encodeURIComponent(job.id)}/download`);
      const url = URL.createObjectURL(await response.blob());
      const a = el('a', { href: url, download: `${this.project.id}-preview.tif` });
      a.click();
      window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (error) {
      flash(this.message, `No download: ${error instanceof Error ? error.message : String(error)}`, 'error');
    }
  }

  private finish(job: Job): void {
    window.sessionStorage.removeItem(jobKey(this.project.id));
    this.button.disabled = !this.canRebuild;
    if (job.state === 'failed') {
      this.result.replaceChildren(el('p', { class: 'note error', role: 'alert' }, `The rebuild failed: ${job.error ?? 'unknown error'}`));
      return;
    }
    const r = job.result ?? {};
    if (r.published === false) {
      const link = el('button', { type: 'button', id: 'preview-download', class: 'button' }, 'Download the preview map');
      link.addEventListener('click', () => void this.download(job));
      this.result.replaceChildren(el('div', { class: 'done-box' },
        el('p', {}, `Preview of ${num(r.decisions ?? 0)} decisions, not published. `), link));
      this.onDone(job);
      return;
    }
    const city = r.city ?? this.project.city;
    const acc = Object.entries(r.holdout_accuracy ?? {}).map(([k, v]) => `${k} ${(v * 100).toFixed(1)} %`).join(', ');
    const viewer = city ? `/#city=${encodeURIComponent(city)}` : null;
    this.result.replaceChildren(el('div', { class: 'done-box' },
      r.layer_version
        ? el('p', {}, 'New layer version ', el('code', { id: 'layer-version' }, r.layer_version),
          ` of ${city}/${r.layer ?? this.project.layer}`)
        : el('p', {}, 'The map was written into the project folder (the project has no city to publish it to).'),
      el('p', { class: 'note' }, `Model ${r.model_version ?? '?'} trained on ${num(r.trained_on_masks ?? 0)} masks`
        + `${acc ? `; hold-out accuracy ${acc}` : ''}.`),
      viewer ? el('p', {}, el('a', { href: viewer, id: 'viewer-link', class: 'button' }, 'Open the new map in the viewer'),
        el('span', { class: 'note' }, ' An open viewer switches to the new version by itself.')) : null));
    void this.loadPreview();
    this.onDone(job);
  }
}

/** ' · about 3 min left' while the job says how long it has left; '' otherwise. */
export function etaText(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return '';
  if (seconds < 60) return ` · about ${Math.max(1, Math.round(seconds))} s left`;
  if (seconds < 3600) return ` · about ${Math.round(seconds / 60)} min left`;
  return ` · about ${(seconds / 3600).toFixed(1)} h left`;
}
