// The top bar of the tool pages: brand, project picker, links between the tools and to the
// map viewer, the signed-in user with Sign out, and the `?` help button.

import { signOut } from './auth';
import { api, type Project, type User } from './client';
import { toggleHelp } from './keys';
import { el, param, setParams } from './util';

export type ToolPage = 'annotate' | 'refine' | 'review' | 'dashboard' | 'assess';

const TOOLS: { page: ToolPage; label: string; title: string }[] = [
  { page: 'annotate', label: 'Annotate', title: 'Label groups of masks at once' },
  { page: 'refine', label: 'Refine', title: 'Correct single masks of a patch' },
  { page: 'review', label: 'Review', title: 'Accept or reject decisions' },
  { page: 'dashboard', label: 'Dashboard', title: 'Progress, speed, agreement, rebuild' },
  { page: 'assess', label: 'Assess', title: 'Label the accuracy sample of the map, blind' },
];
const PROJECT_KEY = 'mcae-project';

export interface Nav {
  projects: Project[];
  project: Project;
  bar: HTMLElement;
  /** The slot in the bar for page-specific controls. */
  slot: HTMLElement;
}

function chosen(projects: Project[]): Project | undefined {
  const wanted = param('project') ?? window.localStorage.getItem(PROJECT_KEY);
  return projects.find((p) => p.id === wanted) ?? projects[0];
}

/**
 * Mount the top bar at the start of <body> for `page`. Resolves with the chosen project
 * (from ?project=, else the last one used, else the first); `onProject` runs when the user
 * picks another (the URL's ?project= follows).
 */
export async function mountNav(page: ToolPage, user: User, onProject: (project: Project) => void): Promise<Nav> {
  const projects = await api.get('/api/projects', {});
  const select = el('select', { id: 'project', 'aria-label': 'Project' },
    ...projects.map((p) => el('option', { value: p.id }, `${p.name} (${p.id})`)));
  const links = el('nav', { class: 'tool-links', 'aria-label': 'Tools' });
  const slot = el('div', { class: 'nav-slot' });
  const bar = el('header', { id: 'toolbar', class: 'toolbar' },
    el('a', { class: 'brand', href: '/', title: 'The map viewer' },
      el('img', { src: '/favicon.svg', alt: '', width: 26, height: 26 }), el('span', {}, 'MCAE')),
    el('label', { class: 'project-field' }, el('span', { class: 'sr-only' }, 'Project'), select),
    links, slot,
    el('div', { class: 'who' },
      el('span', { id: 'who', title: `Signed in as ${user.name} (${user.role})` },
        el('strong', {}, user.name), ' ', el('span', { class: 'role' }, user.role)),
      el('button', { type: 'button', class: 'button ghost', id: 'signout', onclick: () => signOut() }, 'Sign out'),
      el('button', { type: 'button', class: 'button ghost help', id: 'help', title: 'Keyboard shortcuts (?)',
        'aria-label': 'Keyboard shortcuts', onclick: () => toggleHelp() }, '?')));
  document.body.prepend(bar);

  const project = chosen(projects);
  if (!project) {
    slot.append(el('span', { class: 'note' }, 'No annotation project yet: an admin adds one with ',
      el('code', {}, 'mcae projects add'), '.'));
    throw new Error('no project');
  }
  const drawLinks = (p: Project) => {
    links.replaceChildren(...TOOLS.map((t) => el('a', { href: `/${t.page}/?project=${encodeURIComponent(p.id)}`,
      title: t.title, 'aria-current': t.page === page ? 'page' : null, class: t.page === page ? 'current' : null },
    t.label)), el('a', { href: p.city ? `/#city=${encodeURIComponent(p.city)}` : '/', title: 'The comparison viewer' },
      'Map viewer'));
  };
  select.value = project.id;
  drawLinks(project);
  window.localStorage.setItem(PROJECT_KEY, project.id);
  setParams({ project: project.id });
  select.addEventListener('change', () => {
    const next = projects.find((p) => p.id === select.value);
    if (!next) return;
    window.localStorage.setItem(PROJECT_KEY, next.id);
    drawLinks(next);
    onProject(next);
  });
  return { projects, project, bar, slot };
}
