// /review: accept or reject others' decisions (with a comment), and settle the disagreements
// of the double-labelled groups.

import { api } from '../shared/client';
import { addShortcuts } from '../shared/keys';
import { startTool } from '../shared/page';
import { el } from '../shared/util';
import { AgreementPanel } from './annotator-agreement';
import { ReviewList } from './list';
import { VerdictPanel } from './verdict';
import './review.css';

async function main(): Promise<void> {
  let list: ReviewList | null = null;
  let verdict: VerdictPanel | null = null;
  let agreement: AgreementPanel | null = null;
  const { user, nav } = await startTool('review', (project) => {
    list?.setProject(project);
    verdict?.setProject(project.id);
    agreement?.setProject(project);
    void list?.load();
    void agreement?.load();
    void authors(project.id);
  });
  const project = nav.project;
  list = new ReviewList(project, user);
  verdict = new VerdictPanel(project.id, user);
  agreement = new AgreementPanel(project);
  const v = verdict;
  const l = list;
  l.onCurrent = (row) => v.show(row);
  v.onReviewed = (decision) => l.reviewed(decision);

  document.body.append(el('main', { id: 'review', class: 'review-page' },
    el('h1', { class: 'sr-only' }, 'Review'),
    l.node,
    el('div', { class: 'side' }, v.node, agreement.node)));

  const authors = async (id: string) => {
    try {
      const board = await api.get('/api/projects/{project}/dashboard', { path: { project: id } });
      l.setAuthors(board.per_annotator.map((p) => String(p.user)));
    } catch { /* the author box still takes any name */ }
  };

  addShortcuts(
    { keys: ['j', 'ArrowDown'], label: 'Next decision', group: 'Review', run: () => l.move(1) },
    { keys: ['k', 'ArrowUp'], label: 'Previous decision', group: 'Review', run: () => l.move(-1) },
    { keys: ['a'], label: 'Accept the decision', group: 'Review', run: () => void v.give('accept') },
    { keys: ['r'], label: 'Reject: write a comment (Enter sends it)', group: 'Review', run: () => v.focusComment() },
    { keys: ['Enter', 'o'], label: 'Show or hide every mask of the decision', group: 'Review',
      run: () => { const row = l.row; if (row) void row.setExpanded(!row.expanded); } },
    { keys: ['n'], label: 'Next page', group: 'Review', run: () => document.getElementById('page-next')?.click() },
    { keys: ['p'], label: 'Previous page', group: 'Review', run: () => document.getElementById('page-prev')?.click() },
  );
  await Promise.all([l.load(), agreement.load(), authors(project.id)]);
  document.body.classList.add('review-ready');
}

main().catch(() => undefined);
