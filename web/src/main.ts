// MCAE comparison viewer: one city, two layers (imagery, MCAE, SinoLC-1, agreement ...), three
// ways to compare them, legends with class filters, identify, class areas, agreement, downloads.
// Everything comes from the platform API; the whole view lives in the URL hash.

import './style.css';
import { Marker, Popup, type Map as MapLibre, type MapMouseEvent } from 'maplibre-gl';

import { renderAgreement, loadAgreement } from './agreement';
import { absolute, api, type City, type CompareReport, type IdentifyEntry, type Layer, type Legend } from './api';
import { installClassFilterProtocol, registerPalette, type ClassFilter } from './classfilter';
import { DrawTool, shapeBbox, shapeFeature, type Shape } from './draw';
import { Downloads, type DownloadArea } from './downloads';
import { renderLegends, provenanceBadge } from './legend';
import { MapPair } from './maps';
import { formatHash, parseHash, type Mode, type ViewState } from './state';
import { downloadCsv, fetchStatistics, statsChart, type AreaQuery, type StatsResult } from './stats';
import { byId, debounce, h, narrowQuery, reducedMotion } from './util';

type Bbox = [number, number, number, number];
type Area = { type: 'view' } | { type: 'district' } | { type: 'shape'; shape: Shape };
type Tab = 'legend' | 'areas' | 'download' | 'agreement';
const TABS: Tab[] = ['legend', 'areas', 'download', 'agreement'];
const KIND_ORDER = ['mcae', 'sinolc1', 'agreement', 'other', 'imagery'];

function cityBounds(city: City): Bbox {
  const b = city.layers.map((l) => l.bounds);
  if (!b.length) return [-180, -60, 180, 75];
  return [Math.min(...b.map((x) => x[0])), Math.min(...b.map((x) => x[1])),
    Math.max(...b.map((x) => x[2])), Math.max(...b.map((x) => x[3]))];
}

function intersect(a: Bbox, b: Bbox): Bbox | null {
  const out: Bbox = [Math.max(a[0], b[0]), Math.max(a[1], b[1]), Math.min(a[2], b[2]), Math.min(a[3], b[3])];
  return out[0] < out[2] && out[1] < out[3] ? out : null;
}

function geometryBounds(geometry: GeoJSON.Geometry): Bbox {
  const xs: number[] = [];
  const ys: number[] = [];
  const walk = (coords: unknown): void => {
    if (Array.isArray(coords) && typeof coords[0] === 'number') {
      xs.push(coords[0] as number);
      ys.push(coords[1] as number);
    } else if (Array.isArray(coords)) coords.forEach(walk);
  };
  walk((geometry as { coordinates?: unknown }).coordinates);
  return [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
}

function fold(text: string): string {
  return text.normalize('NFKD').replace(/[\u0300-\u036f]/g, '').toLowerCase();
}

class App {
  cities: City[] = [];
  city!: City;
  state: ViewState = parseHash(window.location.hash);
  pair!: MapPair;
  draw!: DrawTool;
  downloads!: Downloads;
  legends = new Map<string, Legend>(); // city/layer -> legend
  districts: GeoJSON.FeatureCollection = { type: 'FeatureCollection', features: [] };
  districtBounds = new Map<string, Bbox>();
  area: Area = { type: 'view' };
  stats: StatsResult[] = [];
  statsLabel = '';
  report: CompareReport | null | undefined;
  popup: Popup | null = null;
  private identifyToken: object | null = null;
  private markers: Marker[] = [];
  tab: Tab = 'legend';
  private statsToken = 0;
  private lastHash = '';

  // -- start ---------------------------------------------------------------------------------
  async start(): Promise<void> {
    installClassFilterProtocol();
    const catalog = api.cities();
    this.setSheet(!narrowQuery.matches); // the panel's width is known before the maps fit the city
    // the maps (WebGL, worker) start while the catalog is on its way
    const view = this.state.center !== null && this.state.zoom !== null;
    this.pair = new MapPair(byId('maps'), view ? { center: this.state.center, zoom: this.state.zoom } : {});
    this.pair.position = this.state.pos;
    this.pair.opacity = this.state.opacity;
    (window as unknown as { mcaeViewer: unknown }).mcaeViewer = { app: this, pair: this.pair };
    try {
      this.cities = await catalog;
      performance.mark('mcae-catalog');
    } catch (error) {
      this.fatal(`Could not load the catalog: ${(error as Error).message}`);
      return;
    }
    if (!this.cities.length) {
      this.fatal('The catalog holds no city yet. Add one with `mcae catalog add` or run `mcae demo`.');
      return;
    }
    const city = this.cities.find((c) => c.id === this.state.city) ?? this.cities[0];
    const restoreView = view && city.id === this.state.city;
    this.draw = new DrawTool(this.pair, {
      overlay: byId('draw-overlay'), bar: byId('draw-bar'), help: byId('draw-help'),
      finish: byId<HTMLButtonElement>('draw-finish'), cancel: byId<HTMLButtonElement>('draw-cancel'),
    });
    this.downloads = new Downloads({
      city: () => this.city.id,
      layers: () => this.sortedLayers(),
      preferredLayer: () => this.layerOf('b') ?? this.layerOf('a'),
      area: () => this.downloadArea(),
      zoom: () => this.pair.a.getZoom(),
    });
    await this.pair.ready();
    performance.mark('mcae-maps-ready');
    this.bindUi();
    this.bindMaps();
    this.setMode(this.state.mode ?? (narrowQuery.matches ? 'overlay' : 'swipe'));
    await this.setCity(city.id, { fit: !restoreView, fromState: true });
    this.selectTab(TABS.includes(this.state.tab as Tab) ? (this.state.tab as Tab) : 'legend', false);
    this.saveHashNow();
    document.body.classList.add('ready');
  }

  fatal(message: string): void {
    const note = byId('map-note');
    note.hidden = false;
    note.className = 'floating note error';
    note.textContent = message;
  }

  // -- city, layers ----------------------------------------------------------------------------
  sortedLayers(): Layer[] {
    return [...this.city.layers].sort((x, y) => KIND_ORDER.indexOf(x.kind) - KIND_ORDER.indexOf(y.kind));
  }

  layerOf(side: 'a' | 'b'): Layer | null {
    const id = side === 'a' ? this.state.a : this.state.b;
    return this.city.layers.find((l) => l.id === id) ?? null;
  }

  defaultLayers(city: City): [string | null, string | null] {
    const of = (kind: string) => city.layers.find((l) => l.kind === kind)?.id ?? null;
    const categorical = city.layers.filter((l) => l.kind !== 'imagery');
    const a = of('mcae') ?? of('imagery') ?? city.layers[0]?.id ?? null;
    const b = of('sinolc1') ?? categorical.find((l) => l.id !== a)?.id ?? of('imagery') ?? a;
    return [a, b === a && city.layers.length > 1 ? city.layers.find((l) => l.id !== a)!.id : b];
  }

  async setCity(id: string, options: { fit: boolean; fromState?: boolean }): Promise<void> {
    const city = this.cities.find((c) => c.id === id);
    if (!city) return;
    const previous = this.city;
    this.city = city;
    this.state.city = city.id;
    this.closeIdentify();
    const has = (layer: string | null) => !!layer && city.layers.some((l) => l.id === layer);
    const [defA, defB] = this.defaultLayers(city);
    if (!(options.fromState && has(this.state.a))) this.state.a = previous && has(this.state.a) ? this.state.a : defA;
    if (!(options.fromState && has(this.state.b))) this.state.b = previous && has(this.state.b) ? this.state.b : defB;
    if (!options.fromState) {
      this.state.district = null;
      this.area = { type: 'view' };
      this.pair.setDrawn(null);
    }
    byId<HTMLSelectElement>('city').value = city.id;
    this.fillDistricts();
    this.renderLayerSelects();
    this.renderSubtitle();
    this.renderBanner();
    const loading = Promise.all([this.loadLegends(), this.loadDistricts()]);
    const filtered = [this.state.a, this.state.b].some((l) => l && (this.state.hidden[l] || this.state.highlighted[l]));
    if (options.fit && !this.state.district) this.pair.fit(cityBounds(city), false);
    if (!filtered) this.applyLayers(); // tiles first; the class filter needs the legends
    await loading;
    if (this.city !== city) return; // another city was picked meanwhile
    if (this.state.district && !this.districtBounds.has(this.state.district)) this.state.district = null;
    byId<HTMLSelectElement>('district').value = this.state.district ?? '';
    this.pair.selectDistrict(this.state.district);
    if (options.fit && this.state.district) this.pair.fit(this.districtBounds.get(this.state.district)!, false);
    this.applyLayers();
    this.downloads.setup();
    this.renderAreaPickers();
    this.report = undefined;
    this.refreshTab();
  }

  async loadLegends(): Promise<void> {
    const city = this.city;
    await Promise.all(city.layers.filter((l) => l.kind !== 'imagery').map(async (layer) => {
      const key = `${city.id}/${layer.id}`;
      if (this.legends.has(key)) return;
      try {
        const legend = await api.legend(city.id, layer.id);
        this.legends.set(key, legend);
        registerPalette(key, legend.classes);
      } catch {
        /* a layer without a legend shows none */
      }
    }));
  }

  async loadDistricts(): Promise<void> {
    try {
      this.districts = await api.districts(this.city.id);
    } catch {
      this.districts = { type: 'FeatureCollection', features: [] };
    }
    this.districtBounds.clear();
    for (const feature of this.districts.features) {
      const id = String(feature.properties?.id ?? feature.id);
      this.districtBounds.set(id, geometryBounds(feature.geometry));
    }
    this.pair.setDistricts(this.districts);
  }

  filterOf(layerId: string): ClassFilter {
    return { hidden: this.state.hidden[layerId] ?? [], highlighted: this.state.highlighted[layerId] ?? [] };
  }

  applyLayers(): void {
    const a = this.layerOf('a');
    const b = this.layerOf('b');
    this.pair.setLayer('a', this.city.id, a, a ? this.filterOf(a.id) : undefined);
    this.pair.setLayer('b', this.city.id, b, b ? this.filterOf(b.id) : undefined);
    byId<HTMLSelectElement>('layer-a').value = a?.id ?? '';
    byId<HTMLSelectElement>('layer-b').value = b?.id ?? '';
    byId('opacity-name').textContent = b?.title ?? 'B';
    this.renderLegendPanel();
    this.renderBanner();
    this.updateNote();
    this.saveHash();
  }

  renderLayerSelects(): void {
    for (const side of ['a', 'b'] as const) {
      const select = byId<HTMLSelectElement>(`layer-${side}`);
      select.replaceChildren(...this.sortedLayers().map((l) => h('option', { value: l.id, title: l.title }, this.shortTitle(l))));
      select.value = (side === 'a' ? this.state.a : this.state.b) ?? '';
    }
  }

  /** On phones the layer pickers are narrow: the kind of a layer when it is the only one of its kind. */
  shortTitle(layer: Layer): string {
    const names: Record<string, string> = { imagery: 'Imagery', mcae: 'MCAE', sinolc1: 'SinoLC-1', agreement: 'Agreement' };
    const unique = this.city.layers.filter((l) => l.kind === layer.kind).length === 1;
    return narrowQuery.matches && unique && names[layer.kind] ? names[layer.kind] : layer.title;
  }

  renderSubtitle(): void {
    const mcae = this.city.layers.find((l) => l.kind === 'mcae');
    byId('subtitle').textContent = `${this.city.name}${mcae ? ` · MCAE map version ${mcae.version}` : ''}`;
    document.title = `${this.city.name} · MCAE land cover`;
  }

  renderBanner(): void {
    const banner = byId('banner');
    const shown = [this.layerOf('a'), this.layerOf('b')].filter((l): l is Layer => !!l);
    const synthetic = shown.filter((l) => l.provenance === 'synthetic');
    if (this.city.provenance !== 'synthetic' && !synthetic.length) {
      banner.hidden = true;
      document.body.classList.remove('has-banner');
      return;
    }
    const what = this.city.provenance === 'synthetic'
      ? `${this.city.name.replace(/\s*\(synthetic\)$/i, '')}: made-up demo data, not a real place or a real map.`
      : `${synthetic.map((l) => l.title).join(' and ')} ${synthetic.length > 1 ? 'are' : 'is'} synthetic, not a real map.`;
    banner.replaceChildren(
      h('span', { class: 'banner-icon', 'aria-hidden': 'true' }, '!'),
      h('span', {}, h('strong', {}, 'Synthetic data. '), what),
      h('button', { type: 'button', class: 'link-button', onclick: () => this.showInfo(synthetic[0] ?? shown[0]) }, 'Provenance'));
    banner.hidden = false;
    document.body.classList.add('has-banner');
  }

  // -- class filters (legend) -------------------------------------------------------------------
  renderLegendPanel(): void {
    renderLegends(byId('legends'), {
      legendFor: (layer) => this.legends.get(`${this.city.id}/${layer.id}`),
      hiddenOf: (id) => this.state.hidden[id] ?? [],
      highlightedOf: (id) => this.state.highlighted[id] ?? [],
      toggleClass: (layerId, classId, how) => this.toggleClass(layerId, classId, how),
      resetClasses: (layerId) => {
        delete this.state.hidden[layerId];
        delete this.state.highlighted[layerId];
        this.applyLayers();
      },
      showInfo: (layer) => this.showInfo(layer),
    }, [{ tag: 'A', layer: this.layerOf('a') }, { tag: 'B', layer: this.layerOf('b') }]);
  }

  toggleClass(layerId: string, classId: number, how: 'hide' | 'highlight'): void {
    const map = how === 'hide' ? this.state.hidden : this.state.highlighted;
    const other = how === 'hide' ? this.state.highlighted : this.state.hidden;
    const set = new Set(map[layerId] ?? []);
    if (set.has(classId)) set.delete(classId);
    else set.add(classId);
    map[layerId] = [...set];
    if (!map[layerId].length) delete map[layerId];
    if (other[layerId]) { // a class is either hidden or highlighted
      other[layerId] = other[layerId].filter((id) => id !== classId);
      if (!other[layerId].length) delete other[layerId];
    }
    this.applyLayers();
    const button = document.querySelector<HTMLButtonElement>(`.legend[data-layer="${layerId}"] [data-class="${classId}"]`);
    button?.focus();
  }

  // -- modes -----------------------------------------------------------------------------------
  setMode(mode: Mode): void {
    this.state.mode = mode;
    this.closeIdentify();
    this.pair.setMode(mode);
    document.querySelectorAll<HTMLButtonElement>('#modes [data-mode]').forEach((button) => {
      const on = button.dataset.mode === mode;
      button.setAttribute('aria-checked', String(on));
      button.tabIndex = on ? 0 : -1;
    });
    byId('overlay-controls').hidden = mode !== 'overlay';
    this.syncOverlayControls();
    this.renderSideNames();
    document.body.dataset.mode = mode;
    this.saveHash();
  }

  renderSideNames(): void {
    const narrow = narrowQuery.matches;
    const names: Record<Mode, [string, string]> = {
      swipe: ['Left', 'Right'], side: narrow ? ['Top', 'Bottom'] : ['Left', 'Right'], overlay: ['Below', 'On top'],
    };
    const [a, b] = names[this.pair.mode];
    byId('side-a').textContent = a;
    byId('side-b').textContent = b;
  }

  syncOverlayControls(): void {
    const value = Math.round(this.pair.opacity * 100);
    byId<HTMLInputElement>('opacity').value = String(value);
    byId('opacity-value').textContent = `${value} %`;
    byId('flip').textContent = this.pair.opacity >= 0.5 ? 'Show A' : 'Show B';
  }

  // -- URL state -------------------------------------------------------------------------------
  private writeHash(): void {
    const center = this.pair.a.getCenter();
    this.state.center = [center.lng, center.lat];
    this.state.zoom = this.pair.a.getZoom();
    this.state.pos = this.pair.position;
    this.state.opacity = this.pair.opacity;
    this.state.tab = this.tab;
    const hash = formatHash(this.state);
    if (hash !== this.lastHash) {
      this.lastHash = hash;
      window.history.replaceState(null, '', hash);
    }
  }

  saveHash = debounce(() => this.writeHash(), 200);

  saveHashNow(): void {
    this.writeHash();
  }

  /** A link pasted into the address bar of an open viewer. */
  async onHashChange(): Promise<void> {
    if (window.location.hash === this.lastHash) return;
    const next = parseHash(window.location.hash);
    this.state = next;
    this.pair.position = next.pos;
    this.pair.opacity = next.opacity;
    if (next.city && next.city !== this.city.id) await this.setCity(next.city, { fit: !next.center, fromState: true });
    else {
      this.applyLayers();
      this.pair.selectDistrict(next.district);
      byId<HTMLSelectElement>('district').value = next.district ?? '';
    }
    if (next.center && next.zoom !== null) this.pair.a.jumpTo({ center: next.center, zoom: next.zoom });
    this.setMode(next.mode ?? this.pair.mode);
    this.pair.setPosition(next.pos);
    this.pair.setOpacity(next.opacity);
    this.syncOverlayControls();
    this.lastHash = window.location.hash;
  }

  // -- districts -------------------------------------------------------------------------------
  fillDistricts(): void {
    const select = byId<HTMLSelectElement>('district');
    const items = [...this.city.districts].sort((x, y) => x.name.localeCompare(y.name));
    select.replaceChildren(h('option', { value: '' }, 'Whole city'), ...items.map((d) => h('option', { value: d.id }, d.name)));
    select.disabled = !items.length;
    byId<HTMLInputElement>('district-search').disabled = !items.length;
  }

  selectDistrict(id: string | null, fly = true): void {
    this.closeIdentify();
    this.state.district = id && this.districtBounds.has(id) ? id : null;
    byId<HTMLSelectElement>('district').value = this.state.district ?? '';
    this.pair.selectDistrict(this.state.district);
    if (fly) {
      const bounds = this.state.district ? this.districtBounds.get(this.state.district)! : cityBounds(this.city);
      this.pair.fit(bounds, !reducedMotion.matches);
    }
    if (this.state.district && this.area.type !== 'shape') this.area = { type: 'district' };
    if (!this.state.district && this.area.type === 'district') this.area = { type: 'view' };
    this.renderAreaPickers();
    this.saveHash();
    this.refreshTab();
  }

  // -- identify --------------------------------------------------------------------------------
  async identify(map: MapLibre, lng: number, lat: number): Promise<void> {
    this.closeIdentify();
    const token = {};
    this.identifyToken = token;
    const where = h('p', { class: 'identify-where' },
      `${Math.abs(lat).toFixed(5)}° ${lat >= 0 ? 'N' : 'S'}, ${Math.abs(lng).toFixed(5)}° ${lng >= 0 ? 'E' : 'W'}`);
    const content = h('div', { class: 'identify', 'data-lon': lng.toFixed(7), 'data-lat': lat.toFixed(7), 'aria-live': 'polite' }, where);
    try {
      const answer = await api.identify(this.city.id, lng, lat);
      const rank = (entry: IdentifyEntry) => (entry.layer === this.state.a ? 0 : entry.layer === this.state.b ? 1 : 2);
      const rows = [...answer.layers].sort((x, y) => rank(x) - rank(y)).map((entry) => this.identifyRow(entry));
      content.append(h('table', { class: 'identify-table' }, h('tbody', {}, ...rows)));
    } catch (error) {
      content.append(h('p', { class: 'error' }, `No answer: ${(error as Error).message}`));
    }
    if (this.identifyToken !== token) return; // a later click won
    if (narrowQuery.matches) { // phones: a card over the map and a pin on both maps
      const card = byId('identify-card');
      card.replaceChildren(h('button', { type: 'button', class: 'card-close', 'aria-label': 'Close', onclick: () => this.closeIdentify() }, '×'),
        content);
      card.hidden = false;
      this.markers = [this.pair.a, this.pair.b].map((m) => new Marker({ color: '#1f5fd6', scale: 0.75 }).setLngLat([lng, lat]).addTo(m));
      return;
    }
    // the popup is made once its content is complete, so that MapLibre can place it inside the map
    this.popup = new Popup({ closeButton: true, maxWidth: '340px', focusAfterOpen: false })
      .setLngLat([lng, lat]).setDOMContent(content).addTo(map);
  }

  closeIdentify(): void {
    this.identifyToken = null;
    this.popup?.remove();
    this.popup = null;
    this.markers.forEach((m) => m.remove());
    this.markers = [];
    byId('identify-card').hidden = true;
  }

  identifyRow(entry: IdentifyEntry): HTMLElement {
    const tags: HTMLElement[] = [];
    if (entry.layer === this.state.a) tags.push(h('span', { class: 'side-tag a' }, 'A'));
    if (entry.layer === this.state.b) tags.push(h('span', { class: 'side-tag b' }, 'B'));
    let value: HTMLElement;
    if (entry.kind === 'imagery') {
      value = entry.rgb
        ? h('span', { class: 'value' }, h('span', { class: 'chip', style: `background:rgb(${entry.rgb.slice(0, 3).join(',')})` }),
          `RGB ${entry.rgb.slice(0, 3).join(', ')}`)
        : h('span', { class: 'value muted' }, 'no data');
    } else {
      value = entry.class
        ? h('span', { class: 'value' }, h('span', { class: 'chip', style: `background:${entry.color}` }), entry.class)
        : h('span', { class: 'value muted' }, entry.value ? `value ${entry.value}` : 'no data');
    }
    return h('tr', { 'data-layer': entry.layer, 'data-class': entry.class ?? '' },
      h('th', { scope: 'row' }, ...tags, entry.title), h('td', {}, value));
  }

  // -- areas (statistics and downloads) ------------------------------------------------------------
  viewBbox(): Bbox | null {
    const bounds = this.pair.a.getBounds();
    return intersect([bounds.getWest(), bounds.getSouth(), bounds.getEast(), bounds.getNorth()], cityBounds(this.city));
  }

  areaQuery(): AreaQuery | { error: string } {
    const area = this.area;
    if (area.type === 'district') {
      if (!this.state.district) return { error: 'Pick a district first.' };
      const name = this.city.districts.find((d) => d.id === this.state.district)?.name ?? this.state.district;
      return { kind: 'query', params: { district: this.state.district }, label: `district ${name}` };
    }
    if (area.type === 'shape') {
      if (area.shape.kind === 'rect') {
        return { kind: 'query', params: { bbox: area.shape.bbox.map((v) => v.toFixed(7)).join(',') }, label: 'drawn rectangle' };
      }
      return { kind: 'polygon', geometry: shapeFeature(area.shape).geometry, label: 'drawn polygon' };
    }
    const view = this.viewBbox();
    if (!view) return { error: 'The view does not cover the city: zoom out or pick a district.' };
    return { kind: 'query', params: { bbox: view.map((v) => v.toFixed(7)).join(',') }, label: 'current view' };
  }

  downloadArea(): DownloadArea | { error: string } {
    const area = this.area;
    if (area.type === 'district') {
      if (!this.state.district) return { error: 'Pick a district first.' };
      const name = this.city.districts.find((d) => d.id === this.state.district)?.name ?? this.state.district;
      return { district: this.state.district, label: `district ${name}` };
    }
    if (area.type === 'shape') {
      const bbox = shapeBbox(area.shape);
      return area.shape.kind === 'rect'
        ? { bbox, label: 'drawn rectangle' }
        : { bbox, polygon: shapeFeature(area.shape).geometry, label: 'drawn polygon (its bounding box for tiles)' };
    }
    const view = this.viewBbox();
    return view ? { bbox: view, label: 'current view' } : { error: 'The view does not cover the city: zoom out or pick a district.' };
  }

  /** The layers whose class areas are compared: the categorical ones on show, else the city's maps. */
  statsLayers(): Layer[] {
    const picked: Layer[] = [];
    for (const layer of [this.layerOf('a'), this.layerOf('b')]) {
      if (layer && layer.kind !== 'imagery' && !picked.some((l) => l.id === layer.id)) picked.push(layer);
    }
    for (const layer of this.sortedLayers()) {
      if (picked.length >= 2) break;
      if (layer.kind !== 'imagery' && layer.kind !== 'agreement' && !picked.some((l) => l.id === layer.id)) picked.push(layer);
    }
    return picked;
  }

  renderAreaPickers(): void {
    const choices: { type: string; label: string; disabled?: boolean }[] = [
      { type: 'view', label: 'This view' },
      { type: 'district', label: 'District', disabled: !this.city.districts.length },
      { type: 'rect', label: 'Rectangle' },
      { type: 'polygon', label: 'Polygon' },
    ];
    const current = this.area.type === 'shape' ? this.area.shape.kind : this.area.type;
    document.querySelectorAll<HTMLElement>('[data-area-picker]').forEach((container, index) => {
      const group = h('div', { class: 'segmented small', role: 'radiogroup', 'aria-label': 'Area' });
      for (const choice of choices) {
        const on = choice.type === current;
        group.append(h('button', {
          type: 'button', role: 'radio', 'aria-checked': String(on), 'data-area': choice.type, disabled: choice.disabled,
          onclick: () => void this.pickArea(choice.type),
        }, choice.label));
      }
      const parts: HTMLElement[] = [h('span', { class: 'picker-label', id: `area-label-${index}` }, 'Area'), group];
      if (current === 'district') {
        const select = h('select', { 'aria-label': 'District of the area' }) as HTMLSelectElement;
        select.append(h('option', { value: '' }, 'Pick a district…'),
          ...this.city.districts.map((d) => h('option', { value: d.id }, d.name)));
        select.value = this.state.district ?? '';
        select.addEventListener('change', () => this.selectDistrict(select.value || null));
        parts.push(select);
      }
      if (this.area.type === 'shape') {
        parts.push(h('button', { type: 'button', class: 'link-button', onclick: () => {
          this.area = { type: 'view' };
          this.pair.setDrawn(null);
          this.renderAreaPickers();
          this.refreshTab();
        } }, 'Clear the drawing'));
      }
      container.replaceChildren(...parts);
    });
  }

  async pickArea(type: string): Promise<void> {
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
      if (!this.state.district && this.city.districts.length) {
        this.renderAreaPickers();
        return;
      }
      this.pair.setDrawn(null);
    } else {
      this.area = { type: 'view' };
      this.pair.setDrawn(null);
    }
    this.renderAreaPickers();
    this.refreshTab();
  }

  async refreshStats(): Promise<void> {
    const token = ++this.statsToken;
    const container = byId('stats');
    const desc = byId('area-desc');
    const csv = byId<HTMLButtonElement>('stats-csv');
    const query = this.areaQuery();
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
    const results = await Promise.all(layers.map(async (layer): Promise<StatsResult> => {
      try {
        return { layer, stats: await fetchStatistics(this.city.id, layer, query) };
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
    container.replaceChildren(h('div', { class: 'stats-grid' }, ...results.map(statsChart)));
    container.dataset.ready = String(token);
    csv.disabled = !results.some((r) => r.stats);
  }

  // -- tabs and panels --------------------------------------------------------------------------
  selectTab(tab: Tab, focus: boolean): void {
    this.tab = tab;
    for (const name of TABS) {
      const button = byId(`tab-${name}`);
      const on = name === tab;
      button.setAttribute('aria-selected', String(on));
      button.tabIndex = on ? 0 : -1;
      byId(`pane-${name}`).hidden = !on;
    }
    if (focus) byId(`tab-${tab}`).focus();
    this.refreshTab();
    this.saveHash();
  }

  refreshTab(): void {
    if (!this.city) return;
    if (this.tab === 'areas') void this.refreshStats();
    if (this.tab === 'download') void this.downloads.refresh();
    if (this.tab === 'agreement') void this.refreshAgreement();
  }

  async refreshAgreement(): Promise<void> {
    const container = byId('agreement');
    const city = this.city.id;
    if (this.report === undefined && !this.city.layers.some((l) => l.kind === 'agreement')) {
      this.report = null; // `mcae compare` publishes the report with the agreement layer: none, no report
    }
    if (this.report === undefined) {
      container.replaceChildren(h('p', { class: 'hint' }, 'Loading the agreement report…'));
      try {
        const report = await loadAgreement(city);
        if (city !== this.city.id) return;
        this.report = report;
      } catch (error) {
        renderAgreement(container, city, null, null, `Could not load the report: ${(error as Error).message}`);
        return;
      }
    }
    renderAgreement(container, city, this.report ?? null, this.state.district);
  }

  showInfo(layer: Layer | null): void {
    if (!layer) return;
    const dialog = byId<HTMLDialogElement>('info-dialog');
    byId('info-title').textContent = layer.title;
    const rows: [string, Node | string][] = [
      ['Provenance', provenanceBadge(layer)],
      ['Version', h('code', {}, layer.version)],
      ['Kind', layer.kind],
      ['Class scheme', layer.scheme ?? '–'],
      ['Zoom levels', `${layer.minzoom}–${layer.maxzoom}`],
      ['Bounds', layer.bounds.map((v) => v.toFixed(5)).join(', ')],
      ['City', h('span', {}, this.city.name.replace(/\s*\(synthetic\)$/i, ''), ' ', provenanceBadge(this.city))],
      ['About', layer.description || '–'],
      ['Services', h('span', {}, h('a', { href: absolute(api.tilejson(this.city.id, layer.id)), target: '_blank', rel: 'noopener' }, 'TileJSON'),
        ' · ', h('a', { href: absolute(api.wmts(this.city.id, layer.id)), target: '_blank', rel: 'noopener' }, 'WMTS'),
        ...(layer.kind !== 'imagery' ? [' · ', h('a', { href: `${api.layerPath(this.city.id, layer.id)}/legend`, target: '_blank', rel: 'noopener' }, 'legend')] : []))],
    ];
    byId('info-body').replaceChildren(...rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
    dialog.showModal();
  }

  updateNote(): void {
    const note = byId('map-note');
    if (!this.city) return;
    const zoom = this.pair.a.getZoom();
    const shown = [this.layerOf('a'), this.layerOf('b')].filter((l): l is Layer => !!l);
    const minzoom = Math.min(...shown.map((l) => Math.max(0, l.minzoom - 3)));
    const outside = !this.viewBbox();
    if (!shown.length || (zoom >= minzoom && !outside)) {
      note.hidden = true;
      return;
    }
    note.className = 'floating note';
    note.replaceChildren(outside ? 'The city is out of view. ' : 'Zoom in to see the maps. ',
      h('button', { type: 'button', class: 'button small', onclick: () => this.pair.fit(cityBounds(this.city), !reducedMotion.matches) },
        'Show the city'));
    note.hidden = false;
  }

  // -- wiring -----------------------------------------------------------------------------------
  bindMaps(): void {
    for (const map of [this.pair.a, this.pair.b]) {
      map.on('click', (event: MapMouseEvent) => {
        if (this.draw.active) return;
        void this.identify(map, event.lngLat.lng, event.lngLat.lat);
      });
      map.getCanvas().setAttribute('aria-label', 'Map: drag or use the arrow keys to pan, + and − to zoom, Enter to identify the centre');
      map.getCanvas().addEventListener('keydown', (event) => {
        if (event.key !== 'Enter') return;
        const c = map.getCenter();
        void this.identify(map, c.lng, c.lat);
      });
    }
    const moved = debounce(() => {
      this.updateNote();
      if (this.area.type === 'view') this.refreshTab();
    }, 450);
    this.pair.a.on('moveend', () => {
      this.saveHash();
      moved();
    });
    this.pair.onSlideEnd(() => this.saveHash());
    new ResizeObserver(() => this.pair.resize()).observe(byId('maps'));
  }

  bindUi(): void {
    const citySelect = byId<HTMLSelectElement>('city');
    citySelect.replaceChildren(...this.cities.map((c) => h('option', { value: c.id },
      `${c.name}${c.provenance === 'synthetic' && !/synthetic/i.test(c.name) ? ' (synthetic)' : ''}`)));
    citySelect.disabled = this.cities.length < 2;
    citySelect.addEventListener('change', () => void this.setCity(citySelect.value, { fit: true }));
    byId<HTMLSelectElement>('district').addEventListener('change', (e) =>
      this.selectDistrict((e.target as HTMLSelectElement).value || null));
    this.bindSearch();

    for (const side of ['a', 'b'] as const) {
      byId<HTMLSelectElement>(`layer-${side}`).addEventListener('change', (e) => {
        this.state[side] = (e.target as HTMLSelectElement).value;
        this.closeIdentify();
        this.applyLayers();
        this.refreshTab();
      });
      byId(`info-${side}`).addEventListener('click', () => this.showInfo(this.layerOf(side)));
    }

    const modes = [...document.querySelectorAll<HTMLButtonElement>('#modes [data-mode]')];
    modes.forEach((button, i) => {
      button.addEventListener('click', () => this.setMode(button.dataset.mode as Mode));
      button.addEventListener('keydown', (event) => { // radio group: arrows move and select
        const step = event.key === 'ArrowRight' || event.key === 'ArrowDown' ? 1 : event.key === 'ArrowLeft' || event.key === 'ArrowUp' ? -1 : 0;
        if (!step) return;
        event.preventDefault();
        const next = modes[(i + step + modes.length) % modes.length];
        this.setMode(next.dataset.mode as Mode);
        next.focus();
      });
    });

    const opacity = byId<HTMLInputElement>('opacity');
    opacity.addEventListener('input', () => {
      this.pair.setOpacity(Number(opacity.value) / 100);
      this.syncOverlayControls();
      this.saveHash();
    });
    byId('flip').addEventListener('click', () => {
      this.pair.setOpacity(this.pair.opacity >= 0.5 ? 0 : 1);
      this.syncOverlayControls();
      this.saveHash();
    });

    const tabs = TABS.map((t) => byId(`tab-${t}`));
    tabs.forEach((button, i) => {
      button.addEventListener('click', () => {
        const tab = button.dataset.tab as Tab;
        if (narrowQuery.matches && tab === this.tab && document.body.classList.contains('sheet-open')) {
          this.setSheet(false);
          return;
        }
        this.setSheet(true);
        this.selectTab(tab, false);
      });
      button.addEventListener('keydown', (event) => {
        const step = event.key === 'ArrowRight' ? 1 : event.key === 'ArrowLeft' ? -1 : 0;
        if (!step) return;
        event.preventDefault();
        this.selectTab(TABS[(i + step + TABS.length) % TABS.length], true);
      });
    });
    byId('panel-toggle').addEventListener('click', () => this.setSheet(!document.body.classList.contains('sheet-open')));
    document.querySelectorAll<HTMLInputElement>('input[name="legend-mode"]').forEach((input) =>
      input.addEventListener('change', () => this.renderLegendPanel()));

    byId('stats-csv').addEventListener('click', () => downloadCsv(this.stats, this.statsLabel, this.city.id));

    byId('share').addEventListener('click', () => {
      this.saveHashNow();
      const dialog = byId<HTMLDialogElement>('share-dialog');
      const input = byId<HTMLInputElement>('share-url');
      input.value = window.location.href;
      byId('share-status').textContent = '';
      dialog.showModal();
      input.select();
    });
    byId('share-copy').addEventListener('click', async () => {
      const input = byId<HTMLInputElement>('share-url');
      input.select();
      let ok = false;
      try {
        await navigator.clipboard.writeText(input.value);
        ok = true;
      } catch {
        ok = document.execCommand?.('copy') ?? false;
      }
      byId('share-status').textContent = ok ? 'Link copied.' : 'Select the link and copy it (Ctrl+C).';
    });

    window.addEventListener('hashchange', () => void this.onHashChange());
    narrowQuery.addEventListener('change', () => {
      this.renderSideNames();
      this.renderLayerSelects();
      this.setSheet(!narrowQuery.matches);
    });
  }

  setSheet(open: boolean): void {
    document.body.classList.toggle('sheet-open', open);
    byId('panel-toggle').setAttribute('aria-expanded', String(open));
  }

  bindSearch(): void {
    const input = byId<HTMLInputElement>('district-search');
    const toggle = byId('search-toggle');
    toggle.addEventListener('click', () => {
      const open = !input.parentElement!.classList.contains('open');
      input.parentElement!.classList.toggle('open', open);
      toggle.setAttribute('aria-expanded', String(open));
      if (open) input.focus();
    });
    const list = byId<HTMLUListElement>('district-results');
    let active = -1;
    let matches: { id: string; name: string }[] = [];
    const close = () => {
      list.hidden = true;
      input.setAttribute('aria-expanded', 'false');
      input.removeAttribute('aria-activedescendant');
      active = -1;
    };
    const choose = (id: string) => {
      close();
      input.value = '';
      input.parentElement!.classList.remove('open');
      toggle.setAttribute('aria-expanded', 'false');
      this.selectDistrict(id);
    };
    const render = () => {
      const query = fold(input.value.trim());
      matches = query ? this.city.districts.filter((d) => fold(d.name).includes(query) || d.id.includes(query)).slice(0, 8) : [];
      list.replaceChildren(...(matches.length ? matches.map((d, i) => h('li', {
        id: `district-option-${i}`, role: 'option', 'aria-selected': String(i === active), 'data-district': d.id,
        onmousedown: (e: Event) => { e.preventDefault(); choose(d.id); },
      }, d.name)) : query ? [h('li', { class: 'empty', role: 'option', 'aria-disabled': 'true' }, 'No district matches')] : []));
      list.hidden = !query;
      input.setAttribute('aria-expanded', String(!!query));
      if (active >= 0) input.setAttribute('aria-activedescendant', `district-option-${active}`);
      else input.removeAttribute('aria-activedescendant');
    };
    input.addEventListener('input', () => { active = -1; render(); });
    input.addEventListener('blur', () => window.setTimeout(close, 100));
    input.addEventListener('keydown', (event) => {
      if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
        event.preventDefault();
        if (!matches.length) return;
        active = (active + (event.key === 'ArrowDown' ? 1 : -1) + matches.length) % matches.length;
        render();
      } else if (event.key === 'Enter') {
        event.preventDefault();
        const pick = matches[Math.max(0, active)];
        if (pick) choose(pick.id);
      } else if (event.key === 'Escape') {
        close();
      }
    });
  }
}

const app = new App();
void app.start();
