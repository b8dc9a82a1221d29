// The review list: decisions by others (exclude_author=<me>, pending by default), filtered by
// author, class, time and review state, paged; one row is the current one (j/k).

import { api, ImageSet, type Decision, type Project, type User } from '../shared/client';
import { el, param, setParams } from '../shared/util';
import { classesOf, errorText, type ClassInfo } from './common';
import { DecisionRow } from './row';

const PER_PAGE = 20;

export interface Filters {
  author: string;
  others: boolean; // exclude my own decisions
  cls: string; // '' = any
  since: string; // datetime-local
  until: string;
  review: '' | 'pending' | 'accepted' | 'rejected';
  page: number;
}

function initialFilters(): Filters {
  const review = param('review');
  return {
    author: param('author') ?? '',
    others: param('mine') !== '1',
    cls: param('class') ?? '',
    since: param('since') ?? '',
    until: param('until') ?? '',
    review: review === '' || review === 'all' ? '' : (['pending', 'accepted', 'rejected'].includes(review ?? '')
      ? review as Filters['review'] : 'pending'),
    page: Math.max(1, Number(param('page') ?? 1) || 1),
  };
}

function iso(local: string): string | undefined {
  if (!local) return undefined;
  const t = new Date(local);
  return Number.isNaN(t.getTime()) ? undefined : t.toISOString();
}

export class ReviewList {
  readonly node: HTMLElement;
  rows: DecisionRow[] = [];
  current = -1;
  total = 0;
  capped = false;  // the total stopped counting at its cap: more pages than it says
  filters = initialFilters();
  onCurrent: (row: DecisionRow | null) => void = () => undefined;
  private classes: ClassInfo[];
  private readonly images = new ImageSet();
  private readonly list: HTMLOListElement;
  private readonly summary: HTMLElement;
  private readonly pager: HTMLElement;
  private readonly form: HTMLFormElement;
  private readonly authors: HTMLDataListElement;
  private request = 0;

  constructor(private project: Project, private readonly user: User) {
    this.classes = classesOf(project);
    this.list = el('ol', { id: 'decisions', class: 'decisions', role: 'listbox', 'aria-label': 'Decisions to review' });
    this.summary = el('p', { id: 'list-summary', class: 'list-summary', role: 'status', 'aria-live': 'polite' });
    this.pager = el('nav', { class: 'pager', 'aria-label': 'Pages' });
    this.authors = el('datalist', { id: 'authors' });
    this.form = this.buildForm();
    this.node = el('section', { class: 'panel list-panel', 'aria-labelledby': 'list-title' },
      el('div', { class: 'panel-head' }, el('h2', { id: 'list-title' }, 'Decisions'), this.summary),
      this.form, this.list, this.pager);
    this.list.addEventListener('click', (e) => {
      const item = (e.target as HTMLElement).closest<HTMLElement>('li.decision');
      if (item) this.setCurrent(Number(item.dataset.index), false);
    });
  }

  private buildForm(): HTMLFormElement {
    const f = this.filters;
    const field = (label: string, control: HTMLElement) => el('label', { class: 'field' }, el('span', {}, label), control);
    const form = el('form', { id: 'filters', class: 'filters', 'aria-label': 'Filters' },
      field('Author', el('input', { id: 'f-author', name: 'author', list: 'authors', value: f.author, placeholder: 'anyone',
        autocomplete: 'off', size: 10 })),
      el('label', { class: 'field check' }, el('input', { id: 'f-others', name: 'others', type: 'checkbox', checked: f.others }),
        el('span', {}, 'Not mine')),
      field('Class', el('select', { id: 'f-class', name: 'class' }, el('option', { value: '' }, 'any'),
        ...this.classes.map((c) => el('option', { value: c.id, selected: String(c.id) === f.cls }, c.name)))),
      field('Since', el('input', { id: 'f-since', name: 'since', type: 'datetime-local', value: f.since })),
      field('Until', el('input', { id: 'f-until', name: 'until', type: 'datetime-local', value: f.until })),
      field('Review', el('select', { id: 'f-review', name: 'review' },
        ...[['pending', 'pending'], ['accepted', 'accepted'], ['rejected', 'rejected'], ['', 'all']].map(([v, t]) =>
          el('option', { value: v, selected: v === f.review }, t)))),
      this.authors);
    form.addEventListener('submit', (e) => e.preventDefault());
    form.addEventListener('change', () => { this.readForm(); void this.load(); });
    return form;
  }

  private readForm(): void {
    const data = new FormData(this.form);
    const review = String(data.get('review') ?? '');
    this.filters = {
      author: String(data.get('author') ?? '').trim(),
      others: data.get('others') !== null,
      cls: String(data.get('class') ?? ''),
      since: String(data.get('since') ?? ''),
      until: String(data.get('until') ?? ''),
      review: review as Filters['review'],
      page: 1,
    };
  }

  setAuthors(names: string[]): void {
    this.authors.replaceChildren(...names.map((n) => el('option', { value: n })));
  }

  setProject(project: Project): void {
    this.project = project;
    this.classes = classesOf(project);
    this.filters.page = 1;
  }

  async load(): Promise<void> {
    const f = this.filters;
    const ask = ++this.request;
    setParams({ author: f.author, mine: f.others ? null : '1', class: f.cls, since: f.since, until: f.until,
      review: f.review === 'pending' ? null : (f.review || 'all'), page: f.page > 1 ? String(f.page) : null });
    this.summary.textContent = 'Loading…';
    let page;
    try {
      page = await api.get('/api/projects/{project}/decisions', { path: { project: this.project.id }, query: {
        author: f.author || undefined, exclude_author: f.others ? this.user.name : undefined,
        class: f.cls === '' ? undefined : Number(f.cls), since: iso(f.since), until: iso(f.until),
        review: f.review || undefined, state: 'active', page: f.page, per_page: PER_PAGE } });
    } catch (error) {
      if (ask === this.request) this.summary.textContent = `Could not load the decisions: ${errorText(error)}`;
      return;
    }
    if (ask !== this.request) return;
    const kept = this.row?.decision.id;  // a reload keeps the reviewer's place when the row is still listed
    this.images.clear();
    this.total = page.total;
    this.capped = page.total_capped ?? false;
    const ctx = { project: this.project.id, classes: this.classes, images: this.images };
    this.rows = page.items.map((d: Decision, i: number) => new DecisionRow(d, ctx, i));
    this.list.replaceChildren(...this.rows.map((r) => r.node));
    if (!this.rows.length) {
      this.list.append(el('li', { class: 'empty' }, f.review === 'pending'
        ? 'Nothing to review with these filters: every decision by others is reviewed.' : 'No decision matches the filters.'));
    }
    const first = (f.page - 1) * PER_PAGE;
    this.summary.textContent = page.total
      ? `${first + 1}–${first + this.rows.length} of ${page.total}${this.capped ? '+' : ''}` : '0 decisions';
    this.drawPager();
    const again = this.rows.findIndex((r) => r.decision.id === kept);
    this.current = -1;
    this.setCurrent(again >= 0 ? again : this.rows.length ? 0 : -1, false);
    void Promise.all(this.rows.map((r) => r.loadPreview()));
  }

  private drawPager(): void {
    const pages = Math.max(1, Math.ceil(this.total / PER_PAGE));
    const go = (page: number) => { this.filters.page = page; void this.load(); };
    const p = this.filters.page;
    this.pager.replaceChildren(
      el('button', { type: 'button', class: 'button small', id: 'page-prev', disabled: p <= 1, onclick: () => go(p - 1) },
        '← Newer'),
      el('span', { class: 'page-of' }, `page ${p} of ${pages}${this.capped ? '+' : ''}`),
      el('button', { type: 'button', class: 'button small', id: 'page-next', disabled: (p >= pages && !this.capped) || this.rows.length < PER_PAGE,
        onclick: () => go(p + 1) },
        'Older →'));
  }

  get row(): DecisionRow | null {
    return this.rows[this.current] ?? null;
  }

  setCurrent(index: number, scroll = true): void {
    if (index === this.current && this.row) return;
    this.row?.select(false);
    this.current = index;
    const row = this.row;
    if (row) {
      row.select(true);
      if (scroll) row.node.scrollIntoView({ block: 'nearest' });
    }
    this.onCurrent(row);
  }

  /** j/k: the next or previous row, across pages. */
  move(step: number): void {
    const next = this.current + step;
    const pages = Math.ceil(this.total / PER_PAGE);
    if (next >= this.rows.length && (this.filters.page < pages || (this.capped && this.rows.length === PER_PAGE))) { this.filters.page += 1; void this.load(); return; }
    if (next < 0 && this.filters.page > 1) { this.filters.page -= 1; void this.load(); return; }
    this.setCurrent(Math.max(0, Math.min(this.rows.length - 1, next)));
  }

  /** After a verdict: the row shows it, and the next row still pending becomes the current one. */
  reviewed(decision: Decision): void {
    const at = this.rows.findIndex((r) => r.decision.id === decision.id);
    if (at < 0) return;
    this.rows[at].update(decision);
    const next = this.rows.findIndex((r, i) => i > at && r.decision.review === 'pending');
    if (next >= 0) this.setCurrent(next);
    else this.onCurrent(this.row);
  }
}
