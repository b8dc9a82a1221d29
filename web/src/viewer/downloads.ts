// Downloads: tile bundles (MBTiles, PMTiles, zip) built as server jobs with an estimate first and
// progress while they build; clipped GeoTIFFs; TileJSON and WMTS addresses for QGIS users.

import { absolute, endpoints, fetchFile, type BundleJob, type Estimate, type Layer } from './endpoints';
import { byId, formatBytes, formatInt, el, download } from '../shared/util';
import { WholeFilesList } from './wholefiles';

/** Where a download is cut: a bbox or a district (bundles take no polygon: its bbox is used). */
export type DownloadArea = { bbox: [number, number, number, number]; polygon?: GeoJSON.Polygon; label: string }
  | { district: string; label: string };

export interface DownloadHost {
  city(): string;
  layers(): Layer[];
  preferredLayer(): Layer | null;
  area(): DownloadArea | { error: string };
  zoom(): number;
}

function areaParams(area: DownloadArea): Record<string, string> {
  return 'district' in area ? { district: area.district } : { bbox: area.bbox.map((v) => v.toFixed(7)).join(',') };
}

export class Downloads {
  private layerSelect = byId<HTMLSelectElement>('dl-layer');
  private minSelect = byId<HTMLSelectElement>('dl-minzoom');
  private maxSelect = byId<HTMLSelectElement>('dl-maxzoom');
  private format = byId<HTMLSelectElement>('dl-format');
  private estimateText = byId('dl-estimate');
  private start = byId<HTMLButtonElement>('dl-start');
  private jobBox = byId('dl-job');
  private progress = byId<HTMLProgressElement>('dl-progress');
  private status = byId('dl-status');
  private clipButton = byId<HTMLButtonElement>('dl-clip');
  private clipZip = byId<HTMLInputElement>('dl-clip-zip');
  private clipStatus = byId('dl-clip-status');
  private links = byId('service-links');
  private wholeFiles = new WholeFilesList(byId('whole-files'), copyField);
  private estimateToken = 0;
  private polling: number | undefined;
  lastJob: BundleJob | null = null;
  /** The user chose the layer: keep it; until then it follows side A's layer. */
  private picked = false;

  constructor(private host: DownloadHost) {
    this.layerSelect.addEventListener('change', () => {
      this.picked = true;
      this.fillZooms();
      this.refresh();
    });
    for (const select of [this.minSelect, this.maxSelect, this.format]) select.addEventListener('change', () => this.refresh());
    this.start.addEventListener('click', () => void this.build());
    this.clipButton.addEventListener('click', () => void this.clip());
  }

  private layer(): Layer | undefined {
    return this.host.layers().find((l) => l.id === this.layerSelect.value);
  }

  /** Fill the selects for the current city (keeping the choices that still make sense). */
  setup(): void {
    const layers = this.host.layers();
    const previous = this.layerSelect.value;
    this.layerSelect.replaceChildren(...layers.map((l) => el('option', { value: l.id }, l.title)));
    const preferred = this.host.preferredLayer();
    const keep = this.picked && layers.some((l) => l.id === previous);
    this.layerSelect.value = keep ? previous : preferred?.id ?? layers[0]?.id ?? '';
    this.fillZooms();
    this.renderLinks();
    this.listWholeFiles();
  }

  /** The whole files of the chosen layer, listed while the Download tab is shown (asked once per
   * layer version: a rebuilt layer is listed again). */
  private listWholeFiles(): void {
    if (byId('pane-download').hidden) return;
    void this.wholeFiles.show(this.host.city(), this.layer());
  }

  private fillZooms(): void {
    const layer = this.layer();
    if (!layer) return;
    const low = Math.max(0, layer.minzoom - 3);
    const options = () => Array.from({ length: layer.maxzoom - low + 1 }, (_, i) => low + i)
      .map((z) => el('option', { value: z }, String(z)));
    this.minSelect.replaceChildren(...options());
    this.maxSelect.replaceChildren(...options());
    const current = Math.round(this.host.zoom());
    this.minSelect.value = String(Math.min(layer.maxzoom, Math.max(low, Math.min(current, layer.minzoom))));
    this.maxSelect.value = String(layer.maxzoom);
  }

  /** Ask for the estimate of the current choices (free on the server). */
  async refresh(): Promise<void> {
    this.listWholeFiles();
    const token = ++this.estimateToken;
    const layer = this.layer();
    const area = this.host.area();
    this.start.disabled = true;
    if (!layer) return;
    if ('error' in area) {
      this.estimateText.textContent = area.error;
      this.estimateText.className = 'estimate error';
      return;
    }
    const minzoom = Number(this.minSelect.value);
    const maxzoom = Number(this.maxSelect.value);
    if (minzoom > maxzoom) {
      this.estimateText.textContent = 'The first zoom level must not be above the last.';
      this.estimateText.className = 'estimate error';
      return;
    }
    this.estimateText.textContent = 'Estimating…';
    this.estimateText.className = 'estimate';
    const params = new URLSearchParams({ ...areaParams(area), minzoom: String(minzoom), maxzoom: String(maxzoom),
      format: this.format.value });
    try {
      const estimate = await endpoints.json<Estimate>('GET', `${endpoints.layerPath(this.host.city(), layer.id)}/bundles/estimate`,
        { query: Object.fromEntries(params) });
      if (token !== this.estimateToken) return;
      this.estimateText.dataset.count = String(estimate.count);
      if (!estimate.allowed) {
        this.estimateText.textContent = `${formatInt(estimate.count)} tiles: more than the limit of ${formatInt(estimate.cap)}. `
          + 'Choose a smaller area or fewer zoom levels.';
        this.estimateText.className = 'estimate error';
        return;
      }
      this.estimateText.replaceChildren(el('strong', { id: 'dl-count' }, `${formatInt(estimate.count)} tiles`),
        ` · about ${formatBytes(estimate.estimated_bytes)} · ${area.label}, zoom ${minzoom}–${maxzoom}`);
      this.start.disabled = estimate.count === 0;
    } catch (error) {
      if (token !== this.estimateToken) return;
      this.estimateText.textContent = `No estimate: ${(error as Error).message}`;
      this.estimateText.className = 'estimate error';
    }
  }

  private async build(): Promise<void> {
    const layer = this.layer();
    const area = this.host.area();
    if (!layer || 'error' in area) return;
    window.clearTimeout(this.polling);
    const body = { format: this.format.value, minzoom: Number(this.minSelect.value), maxzoom: Number(this.maxSelect.value),
      ...('district' in area ? { district: area.district } : { bbox: area.bbox }) };
    this.start.disabled = true;
    this.jobBox.hidden = false;
    this.progress.value = 0;
    this.status.textContent = 'Starting…';
    try {
      const job = await endpoints.json<BundleJob>('POST', `${endpoints.layerPath(this.host.city(), layer.id)}/bundles`, { body });
      this.follow(job);
    } catch (error) {
      this.status.textContent = `Could not start the bundle: ${(error as Error).message}`;
      this.start.disabled = false;
    }
  }

  private follow(job: BundleJob): void {
    this.lastJob = job;
    this.jobBox.dataset.job = job.id;
    this.jobBox.dataset.state = job.state;
    this.progress.value = job.progress;
    if (job.state === 'done' && job.links.download) {
      const name = `${this.host.city()}-${job.layer ?? ''}.${job.format ?? ''}`;
      const link = el('a', { href: job.links.download, download: '', id: 'dl-file', class: 'button' }, `Save ${job.format ?? ''} file`);
      this.status.replaceChildren(`Done: ${formatInt(job.tiles_written ?? job.done)} tiles, ${formatBytes(job.bytes ?? 0)}. `, link);
      link.setAttribute('title', name);
      this.start.disabled = false;
      link.click();
      return;
    }
    if (job.state === 'failed') {
      this.status.textContent = `The bundle failed: ${job.error ?? 'unknown error'}`;
      this.start.disabled = false;
      return;
    }
    this.status.textContent = `${job.state === 'queued' ? 'Queued' : 'Building'}: ${formatInt(job.done)} of ${formatInt(job.total)} tiles`;
    this.polling = window.setTimeout(async () => {
      try {
        this.follow(await endpoints.json<BundleJob>('GET', job.links.self));
      } catch (error) {
        this.status.textContent = `Lost the job: ${(error as Error).message}`;
        this.start.disabled = false;
      }
    }, 400);
  }

  private async clip(): Promise<void> {
    const layer = this.layer();
    const area = this.host.area();
    if (!layer) return;
    if ('error' in area) {
      this.clipStatus.textContent = area.error;
      return;
    }
    this.clipButton.disabled = true;
    this.clipStatus.textContent = 'Cutting the GeoTIFF…';
    // a zip names the classes for QGIS and GDAL; imagery has none to name
    const zip = this.clipZip.checked && layer.kind !== 'imagery';
    const base = `${endpoints.layerPath(this.host.city(), layer.id)}/clip`;
    const path = zip ? `${base}?package=zip` : base;
    try {
      let blob: Blob;
      if ('bbox' in area && area.polygon) {
        blob = (await fetchFile('POST', path, { body: area.polygon })).blob;
      } else {
        const params = new URLSearchParams(areaParams(area));
        if (zip) params.set('package', 'zip');
        blob = (await fetchFile('GET', base, { query: Object.fromEntries(params) })).blob;
      }
      download(blob, `${this.host.city()}-${layer.id}-clip.${zip ? 'zip' : 'tif'}`);
      this.clipStatus.textContent = `Saved ${formatBytes(blob.size)} (${area.label}).`;
    } catch (error) {
      this.clipStatus.textContent = `No GeoTIFF: ${(error as Error).message}`;
    } finally {
      this.clipButton.disabled = false;
    }
  }

  renderLinks(): void {
    const city = this.host.city();
    const rows = this.host.layers().map((layer) => el('div', { class: 'service' },
      el('span', { class: 'service-title' }, layer.title),
      copyField(`WMTS of ${layer.title}`, absolute(endpoints.wmts(city, layer.id)), 'WMTS'),
      copyField(`TileJSON of ${layer.title}`, absolute(endpoints.tilejson(city, layer.id)), 'TileJSON')));
    rows.unshift(el('div', { class: 'service' }, el('span', { class: 'service-title' }, 'All layers of the city'),
      copyField('WMTS of every layer', absolute(endpoints.cityWmts(city)), 'WMTS')));
    this.links.replaceChildren(...rows);
  }
}

export function copyField(label: string, url: string, kind: string): HTMLElement {
  const input = el('input', { type: 'text', readonly: true, value: url, 'aria-label': label });
  const status = el('span', { class: 'sr-only', 'aria-live': 'polite' });
  const button = el('button', {
    type: 'button', class: 'button small', 'aria-label': `Copy ${label}`, onclick: async () => {
      input.select();
      try {
        await navigator.clipboard.writeText(url);
      } catch {
        document.execCommand?.('copy');
      }
      status.textContent = 'Copied';
      button.textContent = 'Copied';
      window.setTimeout(() => (button.textContent = 'Copy'), 1500);
    },
  }, 'Copy');
  return el('div', { class: 'copy-field' }, el('span', { class: 'copy-kind' }, kind), input, button, status,
    el('a', { href: url, target: '_blank', rel: 'noopener', class: 'open-link', 'aria-label': `Open ${label}` }, '↗'));
}
