// Start a tool page: sign in (or reuse the tab's token), then the top bar with the project.

import { requireUser, takeSignInMessage } from './auth';
import type { Project, User } from './client';
import { mountNav, type Nav, type ToolPage } from './nav';
import { el } from './util';
import './style.css';

export interface ToolStart {
  user: User;
  nav: Nav;
}

/** Sign in, mount the top bar, and return the user and the chosen project (`nav.project`). */
export async function startTool(page: ToolPage, onProject: (project: Project) => void): Promise<ToolStart> {
  const user = await requireUser(takeSignInMessage());
  try {
    const nav = await mountNav(page, user, onProject);
    document.body.classList.add('tool-ready');
    return { user, nav };
  } catch (error) {
    if (!(error instanceof Error && error.message === 'no project')) {
      document.body.append(el('p', { class: 'fatal', role: 'alert' },
        `The tools could not start: ${error instanceof Error ? error.message : String(error)}`));
    }
    throw error;
  }
}
