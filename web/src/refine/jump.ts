// Jumping to a patch: by name (the field suggests names from the server's search; Enter opens the
// patch of that name, or the first match) and by a click on the locator (the patch under it).

import { api, type Patch } from '../shared/client';
import { byId, debounce, el } from '../shared/util';

/** The grid of a project's patches (its manifest): patches of `patch_size` px sharing `overlap` px. */
export interface GridInfo {
  patch_size?: unknown;
  overlap?: unknown;
}

/**
 * The patch of `items` whose core holds a lon/lat point, from the open patch: its lon/lat bounds
 * and its size in pixels give the scale (a city is small enough for lon/lat to be linear in
 * pixels), the grid gives the cores (as the engine cuts them: ownership splits the overlap).
 */
export function patchAt(items: readonly Patch[], open: Patch, size: { width: number; height: number },
  grid: GridInfo, lon: number, lat: number): Patch | undefined {
  const b = open.bounds;
  if (!b || b.length !== 4 || !size.width || !size.height) return undefined;
  const patchSize = Number(grid.patch_size ?? size.width);
  const overlap = Number(grid.overlap ?? 0);
  const stride = patchSize - overlap;
  const x = open.col * stride + ((lon - b[0]) / (b[2] - b[0])) * size.width; // scene pixels
  const y = open.row * stride + ((b[3] - lat) / (b[3] - b[1])) * size.height;
  if (x < 0 || y < 0) return undefined;
  const half = Math.floor(overlap / 2);
  const col = Math.max(0, Math.floor((x - half) / stride));
  const row = Math.max(0, Math.floor((y - half) / stride));
  const lastRow = Math.max(...items.map((p) => p.row));
  const lastCol = Math.max(...items.map((p) => p.col));
  if (row > lastRow + 1 || col > lastCol + 1) return undefined; // off the city
  return items.find((p) => p.row === Math.min(row, lastRow) && p.col === Math.min(col, lastCol));
}

/**
 * Wire the jump-to field: `open(name)` opens a patch (false: no such patch), `say` tells the
 * user what happened.
 */
export function wireJump(project: () => string, open: (name: string) => Promise<boolean>,
  say: (text: string) => void): void {
  const field = byId<HTMLInputElement>('patch-q');
  const names = byId<HTMLDataListElement>('patch-names');
  const matches = async (q: string, n: number): Promise<Patch[]> => (await api.get('/api/projects/{project}/patches', {
    path: { project: project() }, query: { q, per_page: n } })).items;
  field.addEventListener('input', debounce(() => {
    const q = field.value.trim();
    if (!q) { names.replaceChildren(); return; }
    matches(q, 20).then((found) => {
      if (field.value.trim() === q) names.replaceChildren(...found.map((p) => el('option', { value: p.name })));
    }).catch(() => undefined);
  }, 200));
  field.addEventListener('keydown', (event) => {
    if (event.key !== 'Enter') return;
    event.preventDefault();
    const q = field.value.trim();
    if (!q) return;
    void (async () => {
      const found = await matches(q, 20);
      const target = found.find((p) => p.name.toLowerCase() === q.toLowerCase()) ?? found[0];
      if (!target) { say(`No patch's name contains "${q}".`); return; }
      if (await open(target.name)) field.blur();
      else say(`Patch ${target.name} could not be opened.`);
    })().catch((error: unknown) => say(error instanceof Error ? error.message : String(error)));
  });
}
