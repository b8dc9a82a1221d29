// Whole maps: the selected layer's map and each district map as files, with their class names
// (.aux.xml), QGIS style (.qml), size and SHA-256, and a /vsicurl/ path to open them remotely in
// GDAL or QGIS. The URLs are versioned and immutable (GET .../files lists the current version).

import { api, type Schemas } from '../shared/client';
import { el, formatBytes } from '../shared/util';

export type WholeFiles = Schemas['WholeFilesOut'];
export type WholeFile = Schemas['WholeFileOut'];

/** Renders the whole files of one layer into a container (the Download tab's "Whole maps"). */
export class WholeFilesList {
  private token = 0;
  /** The version last shown: a rebuilt layer (new version) is listed again. */
  private shown = '';

  constructor(private box: HTMLElement, private copyField: (label: string, url: string, kind: string) => HTMLElement) {}

  async show(city: string, layer: { id: string; title: string; version: string | null } | undefined): Promise<void> {
    const token = ++this.token;
    if (!layer) {
      this.box.replaceChildren();
      this.shown = '';
      return;
    }
    const key = `${city}/${layer.id}/${layer.version ?? ''}`;
    if (key === this.shown) return;
    this.box.replaceChildren(el('p', { class: 'hint' }, 'Listing the files…'));
    try {
      const listing = await api.get('/api/cities/{city}/layers/{layer}/files', { path: { city, layer: layer.id } });
      if (token !== this.token) return;
      this.shown = key;
      this.render(listing);
    } catch (error) {
      if (token !== this.token) return;
      this.shown = '';
      this.box.replaceChildren(el('p', { class: 'hint', id: 'whole-files-none' },
        `No whole files of ${layer.title}: ${(error as Error).message}`));
    }
  }

  private render(listing: WholeFiles): void {
    const maps = listing.files.filter((f) => f.role === 'data');
    const row = (map: WholeFile): HTMLElement => {
      const sidecars = listing.files.filter((f) => f.role !== 'data' && f.district === map.district);
      const title = map.district ? `District ${map.district_name ?? map.district}` : `${listing.title}: the whole city`;
      let path: HTMLElement | null = null;
      if (map.vsicurl) {
        path = this.copyField(`GDAL path of ${map.name}`, map.vsicurl, 'vsicurl');
        path.querySelector('.open-link')?.remove(); // a GDAL path, not a page to open
      }
      return el('div', { class: 'service whole-file', 'data-file': map.name, 'data-district': map.district ?? '' },
        el('span', { class: 'service-title' }, title),
        el('div', { class: 'row whole-file-links' },
          el('a', { href: map.url, download: map.name, class: 'button small', 'data-size': String(map.size) },
            `${map.name} (${formatBytes(map.size)})`),
          ...sidecars.map((f) => el('a', { href: f.url, download: f.name, class: 'open-link sidecar', title: f.name },
            f.role === 'metadata' ? '.aux.xml' : '.qml'))),
        el('div', { class: 'sha256' }, el('span', { class: 'copy-kind' }, 'SHA-256'),
          el('code', { class: 'sha256-value', title: `SHA-256 of ${map.name}` }, map.sha256)),
        path);
    };
    const city = maps.filter((f) => !f.district).map(row);
    const districts = maps.filter((f) => f.district).map(row);
    this.box.replaceChildren(
      el('p', { class: 'hint' }, `Version ${listing.version}. Check a download with `,
        el('code', {}, 'sha256sum'), '; open a map without downloading it: ', el('code', {}, 'gdalinfo /vsicurl/…'),
        ' or QGIS › Add Raster Layer › Protocol HTTP(S).'),
      ...city,
      ...(districts.length ? [el('details', { class: 'whole-districts' },
        el('summary', {}, `District maps (${districts.length})`), ...districts)] : []));
  }
}
