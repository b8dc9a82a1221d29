// The area that class areas and downloads are about (the view, a district, or a rectangle or
// polygon drawn on the maps), its pickers, and the class-area statistics of the Areas tab.

import type { City, Layer } from './endpoints';
import { shapeBbox, shapeFeature, type DrawTool, type Shape } from './draw';
import type { DownloadArea } from './downloads';
import { cityBounds, intersect, type Bbox } from './geo';
import type { MapPair } from './maps';
import { downloadCsv, fetchStatistics, statsChart, type AreaQuery, type StatsResult } from './stats';
import { byId, el, narrowQuery } from '../shared/util';

const OUT_OF_VIEW = 'The view does not cover the city: zoom out or pick a district.';

export type Area = { type: 'view' } | { type: 'district' } | { type: 'shape'; shape: Shape };

export interface AreasHost {
  city(): City;
  /** The district picked, if any. */
  district(): string | null;
  /** The layers on sides A and B. */
  shown(): [Layer | null, Layer | null];
  /** The city's layers, maps first. */
  sortedLayers(): Layer[];
  selectDistrict(id: string | null): void;
  /** The area changed: the open tab shows it again. */
  refreshTab(): void;
}

export class Areas {
  area: Area = { type: 'view' };
  stats: StatsResult[] = [];
  statsLabel = '';
  private statsToken = 0;

  constructor(private pair: MapPair, private draw: DrawTool, private host: AreasHost) {
    byId('stats-csv').addEventListener('click', () => downloadCsv(this.stats, this.statsLabel, this.host.city().id));
  }

  /** Back to the view, without a drawing. */
  clear(): void {
    this.area = { type: 'view' };
    this.pair.setDrawn(null);
  }

  /** A district was picked or dropped: the area follows it, unless it is a drawing. */
  followDistrict(district: string | null): void {
    if (district && this.area.type !== 'shape') this.area = { type: 'district' };
    if (!district && this.area.type === 'district') this.area = { type: 'view' };
    this.renderPickers();
  }

  /** The part of the city in view, or null when the view is outside it. */
  viewBbox(): Bbox | null {
    const bounds = this.pair.a.getBounds();
    return intersect([bounds.getWest(), bounds.getSouth(), bounds.getEast(), bounds.getNorth()], cityBounds(this.host.city()));
  }

  /** The area as the statistics API takes it. */
  query(): AreaQuery | { error: string } {
    const area = this.area;
    if (area.type === 'district') {
      const picked = this.pickedDistrict();
      return 'error' in picked ? picked : { kind: 'query', params: { district: picked.district }, label: picked.label };
    }
    if (area.type === 'shape') {
      if (area.shape.kind === 'rect') {
        return { kind: 'query', params: { bbox: area.shape.bbox.map((v) => v.toFixed(7)).join(',') }, label: 'drawn rectangle' };
      }
      return { kind: 'polygon', geometry: shapeFeature(area.shape).geometry, label: 'drawn polygon' };
    }
    const view = this.viewBbox();
    if (!view) return { error: OUT_OF_VIEW };
    return { kind: 'query', params: { bbox: view.map((v) => v.toFixed(7)).join(',') }, label: 'current view' };
  }

  /** The area as downloads take it. */
  downloadArea(): DownloadArea | { error: string } {
    const area = this.area;
    if (area.type === 'district') return this.pickedDistrict();
    if (area.type === 'shape') {
      const bbox = shapeBbox(area.shape);
      return area.shape.kind === 'rect'
        ? { bbox, label: 'drawn rectangle' }
        : { bbox, polygon: shapeFeature(area.shape).geometry, label: 'drawn polygon (its bounding box for tiles)' };
    }
    const view = this.viewBbox();
    return view ? { bbox: view, label: 'current view' } : { error: OUT_OF_VIEW };
  }

  /** The district picked in the toolbar, with its label, or why there is none. */
  private pickedDistrict(): { district: string; label: string } | { error: string } {
    const district = this.host.district();
    if (!district) return { error: 'Pick a district first.' };
    const name = this.host.city().districts.find((d) => d.id === district)?.name ?? district;
    return { district, label: `district ${name}` };
  }

  /** The layers whose class areas are compared: the categorical ones on show, else the city's maps. */
  statsLayers(): Layer[] {
    const picked: Layer[] = [];
    for (const layer of this.host.shown()) {
      if (layer && layer.kind !== 'imagery' && !picked.some((l) => l.id === layer.id)) picked.push(layer);
    }
    for (const layer of this.host.sortedLayers()) {
      if (picked.length >= 2) break;
      if (layer.kind !== 'imagery' && layer.kind !== 'agreement' && !picked.some((l) => l.id === layer.id)) picked.push(layer);
    }
    return picked;
  }

  /** The area pickers of the Areas and Download tabs (every `[data-area-picker]`). */
  renderPickers(): void {
    const city = this.host.city();
    const choices: { type: string; label: string; disabled?: boolean }[] = [
      { type: 'view', label: 'This view' },
      { type: 'district', label: 'District', disabled: !city.districts.length },
      { type: 'rect', label: 'Rectangle' },
      { type: 'polygon', label: 'Polygon' },
    ];
    const current = this.area.type === 'shape' ? this.area.shape.kind : this.area.type;
    document.querySelectorAll<HTMLElement>('[data-area-picker]').forEach((container, index) => {
      const group = el('div', { class: 'segmented small', role: 'radiogroup', 'aria-label': 'Area' });
      for (const choice of choices) {
        const on = choice.type === current;
        group.append(el('button', {
          type: 'button', role: 'radio', 'aria-checked': String(on), 'data-area': choice.type, disabled: choice.disabled,
          onclick: () => void this.pick(choice.type),
        }, choice.label));
      }
      const parts: HTMLElement[] = [el('span', { class: 'picker-label', id: `area-label-${index}` }, 'Area'), group];
      if (current === 'district') {
        const select = el('select', { 'aria-label': 'District of the area' }) as HTMLSelectElement;
        select.append(el('option', { value: '' }, 'Pick a district…'),
          ...city.districts.map((d) => el('option', { value: d.id }, d.name)));
        select.value = this.host.district() ?? '';
        select.addEventListener('change', () => this.host.selectDistrict(select.value || null));
        parts.push(select);
      }
      if (this.area.type === 'shape') {
        parts.push(el('button', { type: 'button', class: 'link-button', onclick: () => {
          this.clear();
          this.renderPickers();
          this.host.refreshTab();
        } }, 'Clear the drawing'));
      }
      container.replaceChildren(...parts);
    });
  }

  /** A picker button: the view, a district, or a shape to draw now. */
  async pick(type: string): Promise<void> {
    if (type === 'rect' || type === 'polygon') {
      const previous = this.area;
      const narrow = narrowQuery.matches;
      if (narrow) document.body.classList.remove('sheet-open');
      const shape = await this.draw.draw(type);
      if (narrow) document.body.classList.add('sheet-open');
      if (shape) this.area = { type: 'shape', shape };
      else if (previous.type === 'shape') this.pair.setDrawn(shapeFeature(previous.shape));
    } else if (type === 'district') {
      this.area = { type: 'district' };
      if (!this.host.district() && this.host.city().districts.length) {
        this.renderPickers();
        return;
      }
      this.pair.setDrawn(null);
    } else {
      this.clear();
    }
    this.renderPickers();
    this.host.refreshTab();
  }

  /** Fetch and chart the class areas of the area (a later call wins over one still loading). */
  async refreshStats(): Promise<void> {
    const token = ++this.statsToken;
    const container = byId('stats');
    const desc = byId('area-desc');
    const csv = byId<HTMLButtonElement>('stats-csv');
    const query = this.query();
    csv.disabled = true;
    if ('error' in query) {
      desc.textContent = query.error;
      container.replaceChildren();
      return;
    }
    const layers = this.statsLayers();
    if (!layers.length) {
      desc.textContent = 'This city has no class map.';
      container.replaceChildren();
      return;
    }
    desc.textContent = `Class areas in the ${query.label}…`;
    desc.dataset.query = query.kind === 'query' ? new URLSearchParams(query.params).toString() : 'polygon';
    if (query.kind === 'polygon') desc.dataset.geometry = JSON.stringify(query.geometry);
    else delete desc.dataset.geometry;
    container.classList.add('loading');
    const city = this.host.city().id;
    const results = await Promise.all(layers.map(async (layer): Promise<StatsResult> => {
      try {
        return { layer, stats: await fetchStatistics(city, layer, query) };
      } catch (error) {
        return { layer, error: (error as Error).message };
      }
    }));
    if (token !== this.statsToken) return;
    container.classList.remove('loading');
    this.stats = results;
    this.statsLabel = query.label;
    const area = results.find((r) => r.stats)?.stats?.area_m2.inside;
    desc.replaceChildren(`Class areas in the ${query.label}`,
      area !== undefined ? ` (${(area / 1e6).toFixed(area < 1e5 ? 4 : 2)} km²)` : '', '.');
    container.replaceChildren(el('div', { class: 'stats-grid' }, ...results.map(statsChart)));
    container.dataset.ready = String(token);
    csv.disabled = !results.some((r) => r.stats);
  }
}
