// Identify: the class (or the colour, for imagery) of every layer of the city at a point, in a
// popup on the clicked map, or on phones in a card over the maps with a pin on both of them.

import { Marker, Popup, type Map as MapLibre } from 'maplibre-gl';

import { endpoints, type IdentifyEntry } from './endpoints';
import type { MapPair } from './maps';
import { byId, el, narrowQuery } from '../shared/util';

export interface IdentifyHost {
  /** The id of the city shown. */
  city(): string;
  /** The ids of the layers on sides A and B: they come first in the answer, tagged. */
  sides(): { a: string | null; b: string | null };
}

export class Identify {
  private popup: Popup | null = null;
  private markers: Marker[] = [];
  private token: object | null = null;

  constructor(private pair: MapPair, private host: IdentifyHost) {}

  /** Ask the API what lies at a point and show it on `map` (phones: in the card). */
  async show(map: MapLibre, lng: number, lat: number): Promise<void> {
    this.close();
    const token = {};
    this.token = token;
    const where = el('p', { class: 'identify-where' },
      `${Math.abs(lat).toFixed(5)}° ${lat >= 0 ? 'N' : 'S'}, ${Math.abs(lng).toFixed(5)}° ${lng >= 0 ? 'E' : 'W'}`);
    const content = el('div', { class: 'identify', 'data-lon': lng.toFixed(7), 'data-lat': lat.toFixed(7), 'aria-live': 'polite' }, where);
    try {
      const answer = await endpoints.identify(this.host.city(), lng, lat);
      const sides = this.host.sides();
      const rank = (entry: IdentifyEntry) => (entry.layer === sides.a ? 0 : entry.layer === sides.b ? 1 : 2);
      const rows = [...answer.layers].sort((x, y) => rank(x) - rank(y)).map((entry) => identifyRow(entry, sides));
      content.append(el('table', { class: 'identify-table' }, el('tbody', {}, ...rows)));
    } catch (error) {
      content.append(el('p', { class: 'error' }, `No answer: ${(error as Error).message}`));
    }
    if (this.token !== token) return; // a later click won
    if (narrowQuery.matches) { // phones: a card over the map and a pin on both maps
      const card = byId('identify-card');
      card.replaceChildren(el('button', { type: 'button', class: 'card-close', 'aria-label': 'Close', onclick: () => this.close() }, '×'),
        content);
      card.hidden = false;
      this.markers = [this.pair.a, this.pair.b].map((m) => new Marker({ color: '#1f5fd6', scale: 0.75 }).setLngLat([lng, lat]).addTo(m));
      return;
    }
    // the popup is made once its content is complete, so that MapLibre can place it inside the map
    this.popup = new Popup({ closeButton: true, maxWidth: '340px', focusAfterOpen: false })
      .setLngLat([lng, lat]).setDOMContent(content).addTo(map);
  }

  /** Take away the popup, the card and the pins; an answer still on its way is dropped. */
  close(): void {
    this.token = null;
    this.popup?.remove();
    this.popup = null;
    this.markers.forEach((m) => m.remove());
    this.markers = [];
    byId('identify-card').hidden = true;
  }
}

/** One layer's line: its name (tagged A and/or B when on show) and its class or colour. */
function identifyRow(entry: IdentifyEntry, sides: { a: string | null; b: string | null }): HTMLElement {
  const tags: HTMLElement[] = [];
  if (entry.layer === sides.a) tags.push(el('span', { class: 'side-tag a' }, 'A'));
  if (entry.layer === sides.b) tags.push(el('span', { class: 'side-tag b' }, 'B'));
  let value: HTMLElement;
  if (entry.kind === 'imagery') {
    value = entry.rgb
      ? el('span', { class: 'value' }, el('span', { class: 'chip', style: `background:rgb(${entry.rgb.slice(0, 3).join(',')})` }),
        `RGB ${entry.rgb.slice(0, 3).join(', ')}`)
      : el('span', { class: 'value muted' }, 'no data');
  } else {
    value = entry.class
      ? el('span', { class: 'value' }, el('span', { class: 'chip', style: `background:${entry.color}` }), entry.class)
      : el('span', { class: 'value muted' }, entry.value ? `value ${entry.value}` : 'no data');
  }
  return el('tr', { 'data-layer': entry.layer, 'data-class': entry.class ?? '' },
    el('th', { scope: 'row' }, ...tags, entry.title), el('td', {}, value));
}
