// The viewer's controls wired to the app: map clicks and keys, the city, district and layer
// pickers, the tabs, the bottom sheet, the hash.

import type { MapMouseEvent } from 'maplibre-gl';

import type { App } from './app';
import { bindDistrictSearch } from './search';
import { bindShare } from './share';
import { TABS, type Tab } from './state';
import { byId, debounce, el, narrowQuery } from '../shared/util';

export function bindMaps(app: App): void {
  for (const map of [app.pair.a, app.pair.b]) {
    map.on('error', (event: { error?: { status?: number; message?: string } }) => {
      const error = event.error;
      // a tile of a version the server no longer has: the map was rebuilt, ask the catalog now
      if (error && (error.status === 410 || /^tile 410:/.test(error.message ?? ''))) void app.follower?.poll();
      else console.error(error); // what MapLibre does with errors nobody listens to
    });
    map.on('click', (event: MapMouseEvent) => {
      if (app.draw.active) return;
      void app.identify.show(map, event.lngLat.lng, event.lngLat.lat);
    });
    map.getCanvas().setAttribute('aria-label', 'Map: drag or use the arrow keys to pan, + and − to zoom, Enter to identify the centre');
    map.getCanvas().addEventListener('keydown', (event) => {
      if (event.key !== 'Enter') return;
      const c = map.getCenter();
      void app.identify.show(map, c.lng, c.lat);
    });
  }
  const moved = debounce(() => {
    app.updateNote();
    if (app.areas.area.type === 'view') app.refreshTab();
  }, 450);
  app.pair.a.on('moveend', () => {
    app.saveHash();
    moved();
  });
  app.pair.onSlideEnd(() => app.saveHash());
  new ResizeObserver(() => app.pair.resize()).observe(byId('maps'));
}

export function bindUi(app: App): void {
  const citySelect = byId<HTMLSelectElement>('city');
  citySelect.replaceChildren(...app.cities.map((c) => el('option', { value: c.id },
    `${c.name}${c.provenance === 'synthetic' && !/synthetic/i.test(c.name) ? ' (synthetic)' : ''}`)));
  citySelect.disabled = app.cities.length < 2;
  citySelect.addEventListener('change', () => void app.setCity(citySelect.value, { fit: true }));
  byId<HTMLSelectElement>('district').addEventListener('change', (e) =>
    app.selectDistrict((e.target as HTMLSelectElement).value || null));
  bindDistrictSearch({ districts: () => app.city.districts, selectDistrict: (id) => app.selectDistrict(id) });

  for (const side of ['a', 'b'] as const) {
    byId<HTMLSelectElement>(`layer-${side}`).addEventListener('change', (e) => {
      app.state[side] = (e.target as HTMLSelectElement).value;
      app.identify.close();
      app.applyLayers();
      app.refreshTab();
    });
    byId(`info-${side}`).addEventListener('click', () => app.showInfo(app.layerOf(side)));
  }

  const tabs = TABS.map((t) => byId(`tab-${t}`));
  tabs.forEach((button, i) => {
    button.addEventListener('click', () => {
      const tab = button.dataset.tab as Tab;
      if (narrowQuery.matches && tab === app.tab && document.body.classList.contains('sheet-open')) {
        app.setSheet(false);
        return;
      }
      app.setSheet(true);
      app.selectTab(tab, false);
    });
    button.addEventListener('keydown', (event) => {
      const step = event.key === 'ArrowRight' ? 1 : event.key === 'ArrowLeft' ? -1 : 0;
      if (!step) return;
      event.preventDefault();
      app.selectTab(TABS[(i + step + TABS.length) % TABS.length], true);
    });
  });
  byId('panel-toggle').addEventListener('click', () => app.setSheet(!document.body.classList.contains('sheet-open')));
  document.querySelectorAll<HTMLInputElement>('input[name="legend-mode"]').forEach((input) =>
    input.addEventListener('change', () => app.renderLegendPanel()));
  bindShare(() => app.saveHashNow());

  window.addEventListener('hashchange', () => void app.onHashChange());
  narrowQuery.addEventListener('change', () => {
    app.modes.renderSideNames();
    app.renderLayerSelects();
    app.setSheet(!narrowQuery.matches);
  });
}
