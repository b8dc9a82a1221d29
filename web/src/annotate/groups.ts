// The groups of the open neighbourhood: fetched in the order and with the filter chosen, and
// drawn as a row of buttons with their progress.

import { api, type Group } from '../shared/client';
import { openGroup } from './open';
import { renderGroups } from './pickers';
import { P, page } from './state';
import { ui } from './ui';

export async function loadGroups(hood: string): Promise<Group[]> {
  const sort = ui.groupSort.value as 'cluster' | '-area' | '-gain' | '-open-area';
  const min = Number(ui.groupMin.value);
  return api.get('/api/projects/{project}/neighbourhoods/{hood}/groups',
    { path: { ...P(), hood }, query: { sort, ...(min > 0 ? { min_area_ha: min } : {}) } });
}

export function drawGroups(): void {
  renderGroups(ui.groups, page.hood, page.groups, page.group, page.user.name, (g) => { void openGroup(g.neighbourhood, g.key); });
}
