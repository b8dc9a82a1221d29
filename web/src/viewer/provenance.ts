// Provenance: the banner shown while the city or a layer on show is synthetic, and the (i)
// dialog about a layer (provenance, version, kind, scheme, zoom range, bounds, service links).

import { attributionText, basemapSource } from './basemap';
import { absolute, endpoints, type Basemap, type City, type Layer } from './endpoints';
import { accuracyNode } from './assessment';
import { provenanceBadge } from './legend';
import { byId, el } from '../shared/util';

/** A synthetic city's name without its "(synthetic)" suffix. */
function plainName(city: City): string {
  return city.name.replace(/\s*\(synthetic\)$/i, '');
}

/** Show the banner (#banner) when the city or a shown layer is synthetic, else hide it. */
export function renderSyntheticBanner(city: City, shown: Layer[], showInfo: (layer: Layer | null) => void): void {
  const banner = byId('banner');
  const synthetic = shown.filter((l) => l.provenance === 'synthetic');
  if (city.provenance !== 'synthetic' && !synthetic.length) {
    banner.hidden = true;
    document.body.classList.remove('has-banner');
    return;
  }
  const what = city.provenance === 'synthetic'
    ? `${plainName(city)}: made-up demo data, not a real place or a real map.`
    : `${synthetic.map((l) => l.title).join(' and ')} ${synthetic.length > 1 ? 'are' : 'is'} synthetic, not a real map.`;
  banner.replaceChildren(
    el('span', { class: 'banner-icon', 'aria-hidden': 'true' }, '!'),
    el('span', {}, el('strong', {}, 'Synthetic data. '), what),
    el('button', { type: 'button', class: 'link-button', onclick: () => showInfo(synthetic[0] ?? shown[0]) }, 'Provenance'));
  banner.hidden = false;
  document.body.classList.add('has-banner');
}

/** Open the dialog about a layer of the city (#info-dialog). */
export function showLayerInfo(city: City, layer: Layer, basemap: Basemap | null): void {
  const dialog = byId<HTMLDialogElement>('info-dialog');
  byId('info-title').textContent = layer.title;
  const rows: [string, Node | string][] = [
    ['Provenance', provenanceBadge(layer)],
    ['Version', el('code', {}, layer.version)],
    ...(layer.kind !== 'imagery' ? [['Accuracy', accuracyNode(city.id, layer.id)] as [string, Node]] : []),
    ['Kind', layer.kind],
    ['Class scheme', layer.scheme ?? '–'],
    ['Zoom levels', `${layer.minzoom}–${layer.maxzoom}`],
    ['Bounds', layer.bounds.map((v) => v.toFixed(5)).join(', ')],
    ['City', el('span', {}, plainName(city), ' ', provenanceBadge(city))],
    ['About', layer.description || '–'],
    ['Services', el('span', {}, el('a', { href: absolute(endpoints.tilejson(city.id, layer.id)), target: '_blank', rel: 'noopener' }, 'TileJSON'),
      ' · ', el('a', { href: absolute(endpoints.wmts(city.id, layer.id)), target: '_blank', rel: 'noopener' }, 'WMTS'),
      ...(layer.kind !== 'imagery' ? [' · ', el('a', { href: `${endpoints.layerPath(city.id, layer.id)}/legend`, target: '_blank', rel: 'noopener' }, 'legend')] : []))],
    ...(basemap ? [['Basemap', el('span', { id: 'basemap-info' }, `${basemap.title}, under the layers: `,
      attributionText(basemap), ` (from ${basemapSource(basemap)})`)] as [string, Node]] : []),
  ];
  byId('info-body').replaceChildren(...rows.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
  dialog.showModal();
}
