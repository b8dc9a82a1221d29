// Jumping to a patch: by name (the field suggests names from the server's search; Enter opens the
// patch of that name, or the first match) and by a click on the locator (the patch under it).

import { api, type Patch } from '../shared/client';
import { byId, debounce, el } from '../shared/util';

/** The patch of `items` whose lon/lat bounds hold the point, if any. */
export function patchAt(items: readonly Patch[], lon: number, lat: number): Patch | undefined {
  return items.find((p) => {
    const b = p.bounds;
    return b?.length === 4 && lon >= b[0] && lon <= b[2] && lat >= b[1] && lat <= b[3];
  });
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
