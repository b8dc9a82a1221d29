// Class areas (km² and %) of the compared maps in one area, side by side, as SVG bar charts.

import { endpoints, type Layer, type Statistics } from './endpoints';
import { svg } from '../shared/svg';
import { csvCell, download, el, formatKm2, formatPercent } from '../shared/util';

/** An area as the API takes it: query parameters, or a GeoJSON polygon to POST. */
export type AreaQuery = { kind: 'query'; params: Record<string, string>; label: string }
  | { kind: 'polygon'; geometry: GeoJSON.Polygon; label: string };

export async function fetchStatistics(city: string, layer: Layer, area: AreaQuery): Promise<Statistics> {
  const path = endpoints.statisticsPath(city, layer.id);
  if (area.kind === 'query') return endpoints.json<Statistics>('GET', path, { query: area.params });
  return endpoints.json<Statistics>('POST', path, { body: area.geometry });
}

export interface StatsResult {
  layer: Layer;
  stats?: Statistics;
  error?: string;
}

const ROW = 31;
const WIDTH = 200;
const BAR = 128; // the rest of the row holds the area in km²

export function statsChart(result: StatsResult): HTMLElement {
  const { layer, stats, error } = result;
  const column = el('section', { class: 'stats-column', 'data-layer': layer.id, 'aria-label': `Class areas of ${layer.title}` },
    el('h3', {}, layer.title));
  if (error || !stats) {
    column.append(el('p', { class: 'error' }, error ?? 'No statistics.'));
    return column;
  }
  // a class with pixels has a percent (null only where nothing is classified)
  const classes = stats.classes.filter((c) => c.pixels > 0)
    .map((c) => ({ ...c, percent: c.percent ?? 0, color: c.color ?? '#888888' }));
  const total = stats.area_m2.classified;
  column.append(el('p', { class: 'stats-total' }, `${formatKm2(total)} classified`,
    stats.area_m2.nodata > 0 ? ` · ${formatKm2(stats.area_m2.nodata)} no data` : ''));
  if (!classes.length) {
    column.append(el('p', { class: 'hint' }, 'No classified pixels in this area.'));
    return column;
  }
  const max = Math.max(...classes.map((c) => c.percent), 1);
  const height = classes.length * ROW + 4;
  const chart = svg('svg', { viewBox: `0 0 ${WIDTH} ${height}`, width: '100%', role: 'img', class: 'bar-chart',
    'aria-label': `Bar chart of class areas in ${layer.title}` });
  classes.forEach((cls, i) => {
    const y = i * ROW + 2;
    const group = svg('g', { transform: `translate(0 ${y})` });
    const name = cls.name.length > 22 ? `${cls.name.slice(0, 21)}…` : cls.name;
    group.append(svg('rect', { x: 0, y: 1, width: 11, height: 11, rx: 2, fill: cls.color, stroke: '#0003' }));
    group.append(svg('text', { x: 16, y: 11, class: 'bar-name' }, name));
    group.append(svg('text', { x: WIDTH, y: 11, class: 'bar-value', 'text-anchor': 'end' }, formatPercent(cls.percent)));
    group.append(svg('rect', { x: 0, y: 16, width: BAR, height: 8, rx: 2, fill: '#eef1f5' }));
    group.append(svg('rect', { x: 0, y: 16, width: Math.max(1, (cls.percent / max) * BAR), height: 8, rx: 2,
      fill: cls.color, stroke: '#0002' }));
    group.append(svg('text', { x: WIDTH, y: 24, class: 'bar-area', 'text-anchor': 'end' }, formatKm2(cls.area_m2)));
    const title = svg('title', {}, `${cls.name}: ${formatKm2(cls.area_m2)}, ${formatPercent(cls.percent, 2)}`);
    group.append(title);
    chart.append(group);
  });
  column.append(chart);
  const table = el('table', { class: 'stats-table' },
    el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'Class'), el('th', { scope: 'col' }, 'km²'), el('th', { scope: 'col' }, '%'))));
  const body = el('tbody');
  for (const cls of classes) {
    body.append(el('tr', { 'data-class': cls.id, 'data-area-m2': cls.area_m2, 'data-percent': cls.percent },
      el('th', { scope: 'row' }, el('span', { class: 'chip small', style: `background:${cls.color}`, 'aria-hidden': 'true' }), cls.name),
      el('td', {}, formatKm2(cls.area_m2).replace(' km²', '')),
      el('td', {}, cls.percent.toFixed(1))));
  }
  table.append(body);
  column.append(el('details', { class: 'stats-details' }, el('summary', {}, 'Table'), table));
  return column;
}

export function statisticsCsv(results: StatsResult[], areaLabel: string): string {
  const lines = [['layer', 'layer_title', 'provenance', 'area', 'class_id', 'class', 'color', 'pixels', 'area_m2', 'area_km2', 'percent']
    .join(',')];
  for (const { layer, stats } of results) {
    if (!stats) continue;
    for (const c of stats.classes) {
      lines.push([layer.id, layer.title, stats.provenance, areaLabel, c.id, c.name, c.color, c.pixels,
        c.area_m2.toFixed(2), (c.area_m2 / 1e6).toFixed(6), (c.percent ?? 0).toFixed(4)].map(csvCell).join(','));
    }
  }
  return lines.join('\n') + '\n';
}

export function downloadCsv(results: StatsResult[], areaLabel: string, city: string): void {
  download(new Blob([statisticsCsv(results, areaLabel)], { type: 'text/csv' }), `${city}_class_areas.csv`);
}
