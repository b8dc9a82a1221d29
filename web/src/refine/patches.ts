// The pager over a project's patches: which patches (waiting for refinement first, only those,
// all, not yet checked, checked), where we are (`3 / 25`), previous and next.

import { api, type Patch } from '../shared/client';

export type Filter = 'refine-first' | 'refine' | 'all' | 'unchecked' | 'checked';
export const FILTERS: Filter[] = ['refine-first', 'refine', 'all', 'unchecked', 'checked'];
const PER_PAGE = 500;

async function every(project: string, state: 'all' | 'refine' | 'unchecked' | 'checked'): Promise<Patch[]> {
  const out: Patch[] = [];
  for (let page = 1; ; page += 1) {
    const found = await api.get('/api/projects/{project}/patches', { path: { project },
      query: { page, per_page: PER_PAGE, state } });
    out.push(...found.items);
    if (out.length >= found.total || found.items.length === 0) return out;
  }
}

export class PatchList {
  items: Patch[] = [];
  /** How many of `items` wait for refinement (they come first with 'refine-first'). */
  waiting = 0;
  index = 0;
  filter: Filter = 'refine-first';

  /** Fetch the list for `filter`; keep `keep` (a patch name) as the current one when it is in it. */
  async load(project: string, filter: Filter, keep?: string | null): Promise<void> {
    this.filter = filter;
    if (filter === 'refine-first') {
      const [refine, all] = await Promise.all([every(project, 'refine'), every(project, 'all')]);
      const first = new Set(refine.map((p) => p.name));
      this.items = [...refine, ...all.filter((p) => !first.has(p.name))];
      this.waiting = refine.length;
    } else {
      this.items = await every(project, filter);
      this.waiting = filter === 'refine' ? this.items.length : this.items.filter((p) => p.refine > 0).length;
    }
    const at = keep ? this.items.findIndex((p) => p.name === keep) : -1;
    this.index = at >= 0 ? at : Math.min(this.index, Math.max(0, this.items.length - 1));
    if (!keep) this.index = 0;
  }

  get current(): Patch | undefined {
    return this.items[this.index];
  }

  /** Put a patch's new state into the list (after a save or a check). */
  replace(patch: Patch): void {
    const at = this.items.findIndex((p) => p.name === patch.name);
    if (at >= 0) this.items[at] = { ...this.items[at], ...patch };
  }

  /** Move by `delta`; false at either end. */
  move(delta: number): boolean {
    const next = this.index + delta;
    if (next < 0 || next >= this.items.length) return false;
    this.index = next;
    return true;
  }

  goTo(name: string): boolean {
    const at = this.items.findIndex((p) => p.name === name);
    if (at < 0) return false;
    this.index = at;
    return true;
  }

  get position(): string {
    return this.items.length ? `${this.index + 1} / ${this.items.length}` : '0 / 0';
  }
}
