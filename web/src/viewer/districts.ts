// A city's districts: their outlines on the maps, their bounds (to fly there), and the district
// select of the header.

import { endpoints, type City } from './endpoints';
import { geometryBounds, type Bbox } from './geo';
import type { MapPair } from './maps';
import { byId, el } from '../shared/util';

export class Districts {
  private outlines: GeoJSON.FeatureCollection = { type: 'FeatureCollection', features: [] };
  private bounds = new Map<string, Bbox>();

  constructor(private pair: MapPair) {}

  /** Load a city's outlines (none when it has none) and show them on the maps. */
  async load(city: string): Promise<void> {
    try {
      this.outlines = await endpoints.districts(city);
    } catch {
      this.outlines = { type: 'FeatureCollection', features: [] };
    }
    this.bounds.clear();
    for (const feature of this.outlines.features) {
      const id = String(feature.properties?.id ?? feature.id);
      this.bounds.set(id, geometryBounds(feature.geometry));
    }
    this.pair.setDistricts(this.outlines);
  }

  /** Whether the loaded outlines hold this district. */
  has(id: string): boolean {
    return this.bounds.has(id);
  }

  /** The bounds of a district of the loaded outlines. */
  boundsOf(id: string): Bbox {
    return this.bounds.get(id)!;
  }
}

/** Fill the district select (#district) and enable the search, for a city with districts. */
export function fillDistrictSelect(city: City): void {
  const select = byId<HTMLSelectElement>('district');
  const items = [...city.districts].sort((x, y) => x.name.localeCompare(y.name));
  select.replaceChildren(el('option', { value: '' }, 'Whole city'), ...items.map((d) => el('option', { value: d.id }, d.name)));
  select.disabled = !items.length;
  byId<HTMLInputElement>('district-search').disabled = !items.length;
}
