// The city's MCAE / SinoLC-1 agreement report: overall agreement, kappa, per-class agreement
// both ways and the harmonised confusion table (rows SinoLC-1, columns MCAE).

import { api, ApiError, type AgreementSummary, type City, type CompareReport } from './api';
import { byId, formatInt, h } from './util';

function pct(value: number | null | undefined, digits = 1): string {
  return value === null || value === undefined ? '–' : `${(value * 100).toFixed(digits)} %`;
}

export async function loadAgreement(city: string): Promise<CompareReport | null> {
  try {
    return await api.compare(city);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return null;
    throw error;
  }
}

export function renderAgreement(container: HTMLElement, city: string, report: CompareReport | null,
                                district: string | null, error?: string): void {
  container.replaceChildren();
  if (error) {
    container.append(h('p', { class: 'error' }, error));
    return;
  }
  if (!report) {
    container.append(h('p', { class: 'hint' }, 'No comparison report for this city yet. ',
      'An operator makes one with ', h('code', {}, `mcae compare --city ${city}`), '.'));
    return;
  }
  const scopes: AgreementSummary[] = [report.summary, ...(report.districts ?? [])];
  const select = h('select', { id: 'agreement-scope' }) as HTMLSelectElement;
  for (const scope of scopes) {
    select.append(h('option', { value: scope === report.summary ? '' : scope.scope },
      scope === report.summary ? `${report.city_name} (whole city)` : scope.name));
  }
  const chosen = scopes.find((sc) => sc !== report.summary && sc.scope === district) ?? report.summary;
  select.value = chosen === report.summary ? '' : chosen.scope;
  const body = h('div', { id: 'agreement-body' });
  select.addEventListener('change', () => {
    const next = scopes.find((sc) => (sc === report.summary ? '' : sc.scope) === select.value) ?? report.summary;
    body.replaceChildren(...summaryNodes(next));
  });
  container.append(
    h('div', { class: 'form-grid' }, h('label', { for: 'agreement-scope' }, 'Area'), select),
    body,
    h('p', { class: 'hint method' }, report.method),
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
      container.replaceChildren(h('p', { class: 'hint' }, 'Loading the agreement report…'));
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
  nodes.push(h('div', { class: 'kpis' },
    kpi('Overall agreement', pct(summary.overall_agreement), 'agreement-overall'),
    kpi("Cohen's kappa", summary.kappa === null ? '–' : summary.kappa.toFixed(3), 'agreement-kappa'),
    kpi('Pixels compared', formatInt(summary.pixels.compared), 'agreement-pixels')));
  const table = h('table', { class: 'agreement-table' },
    h('caption', {}, 'Agreement per harmonised class'),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Class'),
      h('th', { scope: 'col', title: 'Share of the SinoLC-1 pixels of this class that MCAE gives the same class' }, 'of SinoLC-1'),
      h('th', { scope: 'col', title: 'Share of the MCAE pixels of this class that SinoLC-1 gives the same class' }, 'of MCAE'))));
  const body = h('tbody');
  for (const cls of summary.classes) {
    body.append(h('tr', {}, h('th', { scope: 'row' }, cls.name),
      h('td', {}, meter(cls.agreement_of_sinolc1)), h('td', {}, meter(cls.agreement_of_mcae))));
  }
  table.append(body);
  nodes.push(table);
  if (summary.harmonised) nodes.push(confusion(summary.harmonised));
  return nodes;
}

function kpi(label: string, value: string, id: string): HTMLElement {
  return h('div', { class: 'kpi' }, h('span', { class: 'kpi-value', id }, value), h('span', { class: 'kpi-label' }, label));
}

function meter(value: number | null): HTMLElement {
  const width = value === null ? 0 : Math.round(value * 100);
  return h('span', { class: 'meter' }, h('span', { class: 'meter-bar', style: `width:${width}%` }),
    h('span', { class: 'meter-text' }, pct(value, 0)));
}

function confusion(table: { class_names: string[]; counts: number[][] }): HTMLElement {
  const total = table.counts.flat().reduce((a, b) => a + b, 0) || 1;
  const max = Math.max(...table.counts.flat(), 1);
  const grid = h('table', { class: 'confusion' },
    h('caption', {}, 'Harmonised confusion table (share of compared pixels): rows SinoLC-1, columns MCAE'));
  const head = h('tr', {}, h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'SinoLC-1 \\ MCAE')));
  for (const name of table.class_names) head.append(h('th', { scope: 'col', title: name }, abbreviation(name)));
  grid.append(h('thead', {}, head));
  const body = h('tbody');
  table.counts.forEach((row, i) => {
    const tr = h('tr', {}, h('th', { scope: 'row', title: table.class_names[i] }, table.class_names[i]));
    row.forEach((count, j) => {
      const share = count / total;
      const strength = Math.sqrt(count / max);
      const diagonal = i === j;
      const background = diagonal ? `rgba(22, 128, 60, ${0.12 + 0.78 * strength})` : `rgba(215, 25, 28, ${0.06 + 0.7 * strength})`;
      tr.append(h('td', { style: `background:${background};color:${strength > 0.55 ? '#fff' : '#111'}`,
        title: `SinoLC-1 ${table.class_names[i]} / MCAE ${table.class_names[j]}: ${formatInt(count)} px` },
      share >= 0.0005 ? (share * 100).toFixed(1) : count ? '<0.1' : '·'));
    });
    body.append(tr);
  });
  grid.append(body);
  return h('div', { class: 'confusion-wrap' }, grid);
}

function abbreviation(name: string): string {
  const words = name.split(/\s+/);
  return words.length > 1 ? words.map((w) => w[0].toUpperCase()).join('') : name.slice(0, 5);
}

function links(city: string): HTMLElement {
  const base = api.comparePath(city);
  const link = (href: string, text: string) => h('a', { href, download: '' }, text);
  return h('p', { class: 'links' }, 'Download: ',
    link(`${base}?format=csv&table=summary`, 'summary'), ' · ',
    link(`${base}?format=csv&table=per_class`, 'per class'), ' · ',
    link(`${base}?format=csv&table=contingency`, '11 × 9 table'), ' · ',
    link(`${base}?format=csv&table=harmonised`, '6 × 6 table'), ' (CSV) · ',
    h('a', { href: `${base}.png`, target: '_blank', rel: 'noopener' }, 'plot (PNG)'), ' · ',
    h('a', { href: base, target: '_blank', rel: 'noopener' }, 'JSON'));
}
