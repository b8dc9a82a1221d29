// The page's state, held one way (as /annotate/ does): one typed object (`page`) that the
// modules of /refine/ read and write; no other module-level state about the project or patch.

import type { PatchDetail, Project } from '../shared/client';
import type { Seen } from './rows';

export interface State {
  project: Project;
  /** The patch open (null while one opens). */
  detail: PatchDetail | null;
  /** The patch's masks as last seen (their versions and classes), by mask id. */
  masks: Map<number, Seen>;
  /** The latest opening of a patch: what arrives for an older one is dropped. */
  opening: number;
  saving: boolean;
  /** The classification's path drawn (its outlines follow the rows). */
  shownClassification: string;
}

export const page: State = {
  project: undefined as unknown as Project, // set when the tool starts
  detail: null,
  masks: new Map(),
  opening: 0,
  saving: false,
  shownClassification: '',
};
