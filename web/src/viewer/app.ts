// The viewer's state and parts: the view (in the URL hash), the city and its layers, legends
// and class filters, modes, districts, tabs. main.ts starts it; wiring.ts binds the controls.

import { Areas } from './areas';
import { addBasemap } from './basemap';
import { installClassFilterProtocol, registerPalette, type ClassFilter } from './classfilter';
import { Districts, fillDistrictSelect } from './districts';
import { DrawTool } from './draw';
import { Downloads } from './downloads';
import { endpoints, type Basemap, type City, type Layer, type Legend } from './endpoints';
import { VersionFollower } from './follow';
import { cityBounds } from './geo';
import { Identify } from './identify';
import { defaultLayers, shortTitle, sortLayers } from './layers';
import { renderLegends } from './legend';
import { AgreementTab } from './map-agreement';
import { MapPair } from './maps';
import { ModeControls } from './modes';
import { renderSyntheticBanner, showLayerInfo } from './provenance';
import { formatHash, parseHash, TABS, type Mode, type Tab, type ViewState } from './state';
import { bindMaps, bindUi } from './wiring';
import { byId, debounce, el, narrowQuery, reducedMotion } from '../shared/util';


/** The viewer: holds the view state, owns the parts (maps, panels, tabs) and wires them together. */
export class App {
  cities: City[] = [];
  city!: City;
  state: ViewState = parseHash(window.location.hash);
  pair!: MapPair;
  draw!: DrawTool;
  downloads!: Downloads;
  legends = new Map<string, Legend>(); // city/layer -> legend
  basemap: Basemap | null = null; // drawn under the layers when the server configures one
  districts!: Districts;
  areas!: Areas;
  identify!: Identify;
  modes!: ModeControls;
  agreement!: AgreementTab;
  follower!: VersionFollower;
  tab: Tab = 'legend';
  private lastHash = '';

  // -- start ---------------------------------------------------------------------------------
  async start(): Promise<void> {
    installClassFilterProtocol();
    const catalog = endpoints.cities();
    const config = endpoints.config().catch(() => null); // no basemap unless the server names one
    this.setSheet(!narrowQuery.matches); // the panel's width is known before the maps fit the city
    // the maps (WebGL, worker) start while the catalog is on its way
    const view = this.state.center !== null && this.state.zoom !== null;
    this.pair = new MapPair(byId('maps'), view ? { center: this.state.center, zoom: this.state.zoom } : {});
    this.pair.position = this.state.pos;
    this.pair.opacity = this.state.opacity;
    if (__MCAE_TEST_HOOKS__) { // only in a test build (MCAE_TEST_HOOKS=1): the browser tests read the maps
      (window as unknown as { mcaeViewer: unknown }).mcaeViewer = { app: this, pair: this.pair };
    }
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
    this.areas = new Areas(this.pair, this.draw, {
      city: () => this.city,
      district: () => this.state.district,
      shown: () => [this.layerOf('a'), this.layerOf('b')],
      sortedLayers: () => this.sortedLayers(),
      selectDistrict: (id) => this.selectDistrict(id),
      refreshTab: () => this.refreshTab(),
    });
    this.downloads = new Downloads({
      city: () => this.city.id,
      layers: () => this.sortedLayers(),
      preferredLayer: () => this.layerOf('a') ?? this.layerOf('b'), // side A: the MCAE map
      area: () => this.areas.downloadArea(),
      zoom: () => this.pair.a.getZoom(),
    });
    this.identify = new Identify(this.pair, { city: () => this.city.id, sides: () => ({ a: this.state.a, b: this.state.b }) });
    this.districts = new Districts(this.pair);
    this.agreement = new AgreementTab({ city: () => this.city, district: () => this.state.district });
    await this.pair.ready();
    performance.mark('mcae-maps-ready');
    await this.showBasemap((await config)?.basemap ?? null);
    this.modes = new ModeControls(this.pair, { pickMode: (mode) => this.setMode(mode), opacityChanged: () => this.saveHash() });
    bindUi(this);
    bindMaps(this);
    this.setMode(this.state.mode ?? (narrowQuery.matches ? 'overlay' : 'swipe'));
    await this.setCity(city.id, { fit: !restoreView, fromState: true });
    this.selectTab(TABS.includes(this.state.tab as Tab) ? (this.state.tab as Tab) : 'legend', false);
    this.saveHashNow();
    document.body.classList.add('ready');
    this.follower = new VersionFollower({ city: () => this.city?.id ?? null, changed: (fresh) => this.followCity(fresh) });
    this.follower.start();
  }

  /** Draw the configured basemap under the layers (the maps stay as they are if it fails). */
  async showBasemap(basemap: Basemap | null): Promise<void> {
    if (!basemap) return;
    try {
      await addBasemap([this.pair.a, this.pair.b], basemap);
      this.basemap = basemap;
    } catch (error) {
      console.error('the basemap could not be loaded', error);
    }
  }

  fatal(message: string): void {
    const note = byId('map-note');
    note.hidden = false;
    note.className = 'floating note error';
    note.textContent = message;
  }

  // -- city, layers ----------------------------------------------------------------------------
  sortedLayers(): Layer[] {
    return sortLayers(this.city);
  }

  layerOf(side: 'a' | 'b'): Layer | null {
    const id = side === 'a' ? this.state.a : this.state.b;
    return this.city.layers.find((l) => l.id === id) ?? null;
  }

  async setCity(id: string, options: { fit: boolean; fromState?: boolean }): Promise<void> {
    const city = this.cities.find((c) => c.id === id);
    if (!city) return;
    const previous = this.city;
    this.city = city;
    this.state.city = city.id;
    this.identify.close();
    const has = (layer: string | null) => !!layer && city.layers.some((l) => l.id === layer);
    const [defA, defB] = defaultLayers(city);
    if (!(options.fromState && has(this.state.a))) this.state.a = previous && has(this.state.a) ? this.state.a : defA;
    if (!(options.fromState && has(this.state.b))) this.state.b = previous && has(this.state.b) ? this.state.b : defB;
    if (!options.fromState) {
      this.state.district = null;
      this.areas.clear();
    }
    byId<HTMLSelectElement>('city').value = city.id;
    fillDistrictSelect(city);
    this.renderLayerSelects();
    this.renderSubtitle();
    this.renderBanner();
    const loading = Promise.all([this.loadLegends(), this.districts.load(city.id)]);
    const filtered = [this.state.a, this.state.b].some((l) => l && (this.state.hidden[l] || this.state.highlighted[l]));
    if (options.fit && !this.state.district) this.pair.fit(cityBounds(city), false);
    if (!filtered) this.applyLayers(); // tiles first; the class filter needs the legends
    await loading;
    if (this.city !== city) return; // another city was picked meanwhile
    if (this.state.district && !this.districts.has(this.state.district)) this.state.district = null;
    byId<HTMLSelectElement>('district').value = this.state.district ?? '';
    this.pair.selectDistrict(this.state.district);
    if (options.fit && this.state.district) this.pair.fit(this.districts.boundsOf(this.state.district), false);
    this.applyLayers();
    this.downloads.setup();
    this.areas.renderPickers();
    this.agreement.reset();
    this.refreshTab();
  }

  async loadLegends(): Promise<void> {
    const city = this.city;
    await Promise.all(city.layers.filter((l) => l.kind !== 'imagery').map(async (layer) => {
      const key = `${city.id}/${layer.id}`;
      if (this.legends.has(key)) return;
      try {
        const legend = await endpoints.legend(city.id, layer.id);
        this.legends.set(key, legend);
        registerPalette(key, legend.classes);
      } catch {
        /* a layer without a legend shows none */
      }
    }));
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

  /** The catalog's new record of the open city (a rebuilt map has a new version): the maps
   * switch the changed layers to their new tile URLs; view, mode, legends and filters stay. */
  followCity(fresh: City): void {
    const city = this.city;
    if (!city || fresh.id !== city.id) return;
    const same = (x: Layer[], y: Layer[]) => JSON.stringify(x) === JSON.stringify(y);
    if (same(city.layers, fresh.layers)) return;
    const ids = (layers: Layer[]) => layers.map((l) => l.id).join(',');
    const newSet = ids(city.layers) !== ids(fresh.layers);
    city.layers = fresh.layers;
    this.renderSubtitle();
    this.applyLayers();
    if (newSet) {
      this.renderLayerSelects();
      this.downloads.setup();
      this.areas.renderPickers();
      void this.loadLegends().then(() => this.applyLayers());
    }
    this.refreshTab();
  }

  renderLayerSelects(): void {
    for (const side of ['a', 'b'] as const) {
      const select = byId<HTMLSelectElement>(`layer-${side}`);
      select.replaceChildren(...this.sortedLayers().map((l) => el('option', { value: l.id, title: l.title }, shortTitle(this.city, l))));
      select.value = (side === 'a' ? this.state.a : this.state.b) ?? '';
    }
  }

  renderSubtitle(): void {
    const mcae = this.city.layers.find((l) => l.kind === 'mcae');
    byId('subtitle').textContent = `${this.city.name}${mcae ? ` · MCAE map version ${mcae.version}` : ''}`;
    document.title = `${this.city.name} · MCAE land cover`;
  }

  renderBanner(): void {
    const shown = [this.layerOf('a'), this.layerOf('b')].filter((l): l is Layer => !!l);
    renderSyntheticBanner(this.city, shown, (layer) => this.showInfo(layer));
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
    this.identify.close();
    this.pair.setMode(mode);
    this.modes.show(mode);
    this.saveHash();
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
    this.modes.syncOverlay();
    this.lastHash = window.location.hash;
  }

  // -- districts -------------------------------------------------------------------------------
  selectDistrict(id: string | null, fly = true): void {
    this.identify.close();
    this.state.district = id && this.districts.has(id) ? id : null;
    byId<HTMLSelectElement>('district').value = this.state.district ?? '';
    this.pair.selectDistrict(this.state.district);
    if (fly) {
      const bounds = this.state.district ? this.districts.boundsOf(this.state.district) : cityBounds(this.city);
      this.pair.fit(bounds, !reducedMotion.matches);
    }
    this.areas.followDistrict(this.state.district);
    this.saveHash();
    this.refreshTab();
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
    if (this.tab === 'areas') void this.areas.refreshStats();
    if (this.tab === 'download') void this.downloads.refresh();
    if (this.tab === 'agreement') void this.agreement.refresh();
  }

  showInfo(layer: Layer | null): void {
    if (layer) showLayerInfo(this.city, layer, this.basemap);
  }

  updateNote(): void {
    const note = byId('map-note');
    if (!this.city) return;
    const zoom = this.pair.a.getZoom();
    const shown = [this.layerOf('a'), this.layerOf('b')].filter((l): l is Layer => !!l);
    const minzoom = Math.min(...shown.map((l) => Math.max(0, l.minzoom - 3)));
    const outside = !this.areas.viewBbox();
    if (!shown.length || (zoom >= minzoom && !outside)) {
      note.hidden = true;
      return;
    }
    note.className = 'floating note';
    note.replaceChildren(outside ? 'The city is out of view. ' : 'Zoom in to see the maps. ',
      el('button', { type: 'button', class: 'button small', onclick: () => this.pair.fit(cityBounds(this.city), !reducedMotion.matches) },
        'Show the city'));
    note.hidden = false;
  }

  setSheet(open: boolean): void {
    document.body.classList.toggle('sheet-open', open);
    byId('panel-toggle').setAttribute('aria-expanded', String(open));
  }
}
