// The city's MCAE / SinoLC-1 agreement report: overall agreement, kappa, per-class agreement
// both ways and the harmonised confusion table (rows SinoLC-1, columns MCAE).

import { ApiError } from '../shared/client';
import { endpoints, type AgreementSummary, type City, type CompareReport } from './endpoints';
import { byId, el, formatInt, inkOn } from '../shared/util';

function pct(value: number | null | undefined, digits = 1): string {
  return value === null || value === undefined ? '–' : `${(value * 100).toFixed(digits)} %`;
}

export async function loadAgreement(city: string): Promise<CompareReport | null> {
  try {
    return await endpoints.compare(city);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return null;
    throw error;
  }
}

export function renderAgreement(container: HTMLElement, city: string, report: CompareReport | null,
                                district: string | null, error?: string): void {
  container.replaceChildren();
  if (error) {
    container.append(el('p', { class: 'error' }, error));
    return;
  }
  if (!report) {
    container.append(el('p', { class: 'hint' }, 'No comparison report for this city yet. ',
      'An operator makes one with ', el('code', {}, `mcae compare --city ${city}`), '.'));
    return;
  }
  const scopes: AgreementSummary[] = [report.summary, ...(report.districts ?? [])];
  const select = el('select', { id: 'agreement-scope' }) as HTMLSelectElement;
  for (const scope of scopes) {
    select.append(el('option', { value: scope === report.summary ? '' : scope.scope },
      scope === report.summary ? `${report.city_name} (whole city)` : scope.name));
  }
  const chosen = scopes.find((sc) => sc !== report.summary && sc.scope === district) ?? report.summary;
  select.value = chosen === report.summary ? '' : chosen.scope;
  const body = el('div', { id: 'agreement-body' });
  select.addEventListener('change', () => {
    const next = scopes.find((sc) => (sc === report.summary ? '' : sc.scope) === select.value) ?? report.summary;
    body.replaceChildren(...summaryNodes(next));
  });
  container.append(
    el('div', { class: 'form-grid' }, el('label', { for: 'agreement-scope' }, 'Area'), select),
    body,
    el('p', { class: 'hint method' }, report.method),
    links(city));
  body.append(...summaryNodes(chosen));
}

/** The Agreement tab (#agreement): the report of the city shown, loaded once per city. */
export class AgreementTab {
  private report: CompareReport | null | undefined;

  constructor(private host: { city(): City; district(): string | null }) {}

  /** Another city: its report is loaded the next time the tab is shown. */
  reset(): void {
    this.report = undefined;
  }

  async refresh(): Promise<void> {
    const container = byId('agreement');
    const city = this.host.city().id;
    if (this.report === undefined && !this.host.city().layers.some((l) => l.kind === 'agreement')) {
      this.report = null; // `mcae compare` publishes the report with the agreement layer: none, no report
    }
    if (this.report === undefined) {
      container.replaceChildren(el('p', { class: 'hint' }, 'Loading the agreement report…'));
      try {
        const report = await loadAgreement(city);
        if (city !== this.host.city().id) return;
        this.report = report;
      } catch (error) {
        renderAgreement(container, city, null, null, `Could not load the report: ${(error as Error).message}`);
        return;
      }
    }
    renderAgreement(container, city, this.report ?? null, this.host.district());
  }
}

function summaryNodes(summary: AgreementSummary): Node[] {
  const nodes: Node[] = [];
  nodes.push(el('div', { class: 'kpis' },
    kpi('Overall agreement', pct(summary.overall_agreement), 'agreement-overall'),
    kpi("Cohen's kappa", summary.kappa === null ? '–' : summary.kappa.toFixed(3), 'agreement-kappa'),
    kpi('Pixels compared', formatInt(summary.pixels.compared), 'agreement-pixels')));
  const table = el('table', { class: 'agreement-table' },
    el('caption', {}, 'Agreement per harmonised class'),
    el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'Class'),
      el('th', { scope: 'col', title: 'Share of the SinoLC-1 pixels of this class that MCAE gives the same class' }, 'of SinoLC-1'),
      el('th', { scope: 'col', title: 'Share of the MCAE pixels of this class that SinoLC-1 gives the same class' }, 'of MCAE'))));
  const body = el('tbody');
  for (const cls of summary.classes) {
    body.append(el('tr', {}, el('th', { scope: 'row' }, cls.name),
      el('td', {}, meter(cls.agreement_of_sinolc1)), el('td', {}, meter(cls.agreement_of_mcae))));
  }
  table.append(body);
  nodes.push(table);
  if (summary.harmonised) nodes.push(confusion(summary.harmonised));
  return nodes;
}

function kpi(label: string, value: string, id: string): HTMLElement {
  return el('div', { class: 'kpi' }, el('span', { class: 'kpi-value', id }, value), el('span', { class: 'kpi-label' }, label));
}

function meter(value: number | null): HTMLElement {
  const width = value === null ? 0 : Math.round(value * 100);
  return el('span', { class: 'meter' }, el('span', { class: 'meter-bar', style: `width:${width}%` }),
    el('span', { class: 'meter-text' }, pct(value, 0)));
}

function confusion(table: { class_names: string[]; counts: number[][] }): HTMLElement {
  const total = table.counts.flat().reduce((a, b) => a + b, 0) || 1;
  const max = Math.max(...table.counts.flat(), 1);
  const grid = el('table', { class: 'confusion' },
    el('caption', {}, 'Harmonised confusion table (share of compared pixels): rows SinoLC-1, columns MCAE'));
  const head = el('tr', {}, el('th', { scope: 'col' }, el('span', { class: 'sr-only' }, 'SinoLC-1 \\ MCAE')));
  for (const name of table.class_names) head.append(el('th', { scope: 'col', title: name }, abbreviation(name)));
  grid.append(el('thead', {}, head));
  const body = el('tbody');
  table.counts.forEach((row, i) => {
    const tr = el('tr', {}, el('th', { scope: 'row', title: table.class_names[i] }, table.class_names[i]));
    row.forEach((count, j) => {
      const share = count / total;
      const strength = Math.sqrt(count / max);
      const diagonal = i === j;
      const background = diagonal ? onWhite([22, 128, 60], 0.12 + 0.78 * strength) : onWhite([215, 25, 28], 0.06 + 0.7 * strength);
      tr.append(el('td', { style: `background:${background};color:${inkOn(background)}`,
        title: `SinoLC-1 ${table.class_names[i]} / MCAE ${table.class_names[j]}: ${formatInt(count)} px` },
      share >= 0.0005 ? (share * 100).toFixed(1) : count ? '<0.1' : '·'));
    });
    body.append(tr);
  });
  grid.append(body);
  return el('div', { class: 'confusion-wrap' }, grid);
}

function abbreviation(name: string): string {
  const words = name.split(/\s+/);
  return words.length > 1 ? words.map((w) => w[0].toUpperCase()).join('') : name.slice(0, 5);
}

function links(city: string): HTMLElement {
  const base = endpoints.comparePath(city);
  const link = (href: string, text: string) => el('a', { href, download: '' }, text);
  return el('p', { class: 'links' }, 'Download: ',
    link(`${base}?format=csv&table=summary`, 'summary'), ' · ',
    link(`${base}?format=csv&table=per_class`, 'per class'), ' · ',
    link(`${base}?format=csv&table=contingency`, '11 × 9 table'), ' · ',
    link(`${base}?format=csv&table=harmonised`, '6 × 6 table'), ' (CSV) · ',
    el('a', { href: `${base}.png`, target: '_blank', rel: 'noopener' }, 'plot (PNG)'), ' · ',
    el('a', { href: base, target: '_blank', rel: 'noopener' }, 'JSON'));
}

/** `rgb` at opacity `alpha` over white, as #rrggbb (so the one contrast rule, inkOn, applies). */
function onWhite(rgb: [number, number, number], alpha: number): string {
  return `#${rgb.map((c) => Math.round(c * alpha + 255 * (1 - alpha)).toString(16).padStart(2, '0')).join('')}`;
}
