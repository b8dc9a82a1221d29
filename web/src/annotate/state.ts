// The page's state, held one way: one typed object (`page`) that every module of /annotate/
// reads and writes, filled by `begin()` when a project opens. No other module keeps its own
// module-level state about the project, the group or the user.

import type { Decision, Group, Neighbourhood, Project, User } from '../shared/client';
import type { ClassInfo } from '../shared/client';
import { ui } from './ui';

export type Sort = 'confidence' | '-confidence' | 'area' | '-area' | 'id';
export type StateFilter = 'all' | 'open' | 'decided' | 'refine';

export const PER_PAGE = 48;
export const HOODS_PER_PAGE = 12;

export interface State {
  user: User;
  project: Project;
  hoodPage: number;
  hoodTotal: number;
  hoods: Neighbourhood[];
  /** What the jump-to field narrows the neighbourhoods to ('' for all). */
  hoodQuery: string;
  /** Every neighbourhood with its bounds, for the locator (loaded once a project opens). */
  allHoods: Neighbourhood[];
  hood: string | null;
  groups: Group[];
  group: Group | null;
  secondPass: boolean;
  leaseUntil: string | null;
  sort: Sort;
  filter: StateFilter;
  page: number;
  total: number;
  history: Decision[];
  /** Classes given in this tab's second labelling (not applied, so not on the masks). */
  secondLabels: Map<number, { class_id: number; fine: string | null }>;
  saving: boolean;
  fineOf: number;
  /** The last send to refinement made here (`u` takes it back before any older decision). */
  lastSend: { id: number; group: string; masks: number } | null;
  /** The latest opening (group, page, sort, filter): what is drawn later belongs to it. */
  opening: number;
  /** How many of `groups` the row shows (it grows a chunk at a time), and the latest fetch of them. */
  groupsShown: number;
  groupsSeq: number;
  /** A "select all" still fetching the other pages' ids (a class key pressed meanwhile waits). */
  selecting: Promise<void> | null;
}

/** The page's state (`begin` fills it; before that only `project` is set, for the shortcuts). */
export const page = {} as State;

/** Start a project's state afresh. */
export function begin(project: Project, user: User): void {
  Object.assign(page, {
    user, project, hoodPage: 1, hoodTotal: 0, hoods: [], hoodQuery: '', allHoods: [], hood: null, groups: [], group: null, secondPass: false,
    leaseUntil: null, sort: (ui.sort.value as Sort) || 'confidence', filter: 'all', page: 1, total: 0, history: [],
    secondLabels: new Map(), saving: false, fineOf: 5, lastSend: null, opening: page.opening ?? 0, selecting: null,
    groupsShown: 0, groupsSeq: 0,
  } satisfies State);
}

/** A new opening (group, page, sort, filter): what is drawn later belongs to the latest one. */
export function nextSeq(): number {
  page.opening = (page.opening ?? 0) + 1;
  ui.main.dataset.opening = String(page.opening);
  return page.opening;
}

export const classes = (): ClassInfo[] => page.project.classes;
export const className = (id: number): string => classes().find((c) => c.id === id)?.name ?? `class ${id}`;
/** Path parameters of the project, and of the open group. */
export const P = () => ({ project: page.project.id });
export const G = () => ({ project: page.project.id, hood: page.group!.neighbourhood, group: page.group!.key });
export const groupKey = (): string => (page.group ? `${page.group.neighbourhood}/${page.group.key}` : '');
