// The verdict of the current decision: accept, or reject with a comment (the author gets it
// back in their queue, with the comment, and is sent its group first).

import { api, ApiError, type Decision, type User } from '../shared/client';
import { el, flash } from '../shared/util';
import { errorText } from './common';
import type { DecisionRow } from './row';
import { reviewBadge } from './row';

export class VerdictPanel {
  readonly node: HTMLElement;
  readonly comment: HTMLTextAreaElement;
  onReviewed: (decision: Decision) => void = () => undefined;
  private row: DecisionRow | null = null;
  private readonly title: HTMLElement;
  private readonly state: HTMLElement;
  private readonly status: HTMLElement;
  private readonly accept: HTMLButtonElement;
  private readonly reject: HTMLButtonElement;
  private busy = false;

  constructor(private project: string, private readonly user: User) {
    this.title = el('p', { id: 'verdict-what', class: 'verdict-what' }, 'No decision chosen.');
    this.state = el('div', { class: 'verdict-state' });
    this.comment = el('textarea', { id: 'comment', name: 'comment', rows: 3, maxlength: 2000,
      placeholder: 'A comment for the author (what is wrong, what it should be)', 'aria-describedby': 'comment-hint' });
    this.accept = el('button', { type: 'button', id: 'accept', class: 'button ok', title: 'Accept (a)' },
      'Accept', el('kbd', {}, 'a'));
    this.reject = el('button', { type: 'button', id: 'reject', class: 'button bad', title: 'Reject with the comment (r, then Enter)' },
      'Reject', el('kbd', {}, 'r'));
    this.status = el('p', { id: 'verdict-status', class: 'status', role: 'status', 'aria-live': 'polite' });
    const reviewer = user.role === 'reviewer' || user.role === 'admin';
    this.node = el('section', { class: 'panel verdict-panel', 'aria-labelledby': 'verdict-title' },
      el('h2', { id: 'verdict-title' }, 'Verdict'),
      this.title, this.state,
      el('label', { for: 'comment', class: 'sr-only' }, 'Comment'),
      this.comment,
      el('p', { id: 'comment-hint', class: 'hint' }, 'In the comment box: ', el('kbd', {}, 'Enter'), ' rejects, ',
        el('kbd', {}, 'Shift'), '+', el('kbd', {}, 'Enter'), ' a new line, ', el('kbd', {}, 'Esc'), ' back to the list.'),
      el('div', { class: 'row' }, this.accept, this.reject),
      reviewer ? null : el('p', { class: 'note warn' }, `Reviewing needs the reviewer role (you are ${user.role}).`),
      this.status);
    this.accept.addEventListener('click', () => void this.give('accept'));
    this.reject.addEventListener('click', () => void this.give('reject'));
    this.comment.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); void this.give('reject'); }
      if (e.key === 'Escape') { e.preventDefault(); this.comment.blur(); this.row?.node.focus(); }
    });
    this.show(null);
  }

  setProject(project: string): void {
    this.project = project;
  }

  show(row: DecisionRow | null): void {
    this.row = row;
    const d = row?.decision;
    const mine = d?.author === this.user.name;
    this.accept.disabled = !d || mine;
    this.reject.disabled = !d || mine;
    this.comment.disabled = !d || mine;
    if (!d) {
      this.title.textContent = 'No decision chosen.';
      this.state.replaceChildren();
      return;
    }
    this.title.replaceChildren(el('strong', {}, `#${d.id}`), ` ${d.class_name} by ${d.author}, `,
      `${d.masks} mask${d.masks === 1 ? '' : 's'}`);
    this.state.replaceChildren(reviewBadge(d), d.review_comment ? el('span', { class: 'note' }, ` “${d.review_comment}”`) : '',
      mine ? el('span', { class: 'note' }, ' Your own decision: someone else reviews it.') : '');
    this.comment.value = d.review === 'rejected' ? (d.review_comment ?? '') : '';
  }

  /** `r`: write the comment of a rejection (Enter sends it). */
  focusComment(): void {
    if (this.comment.disabled) return;
    this.comment.focus();
    this.comment.select();
  }

  async give(verdict: 'accept' | 'reject'): Promise<void> {
    const d = this.row?.decision;
    if (!d || this.busy) return;
    this.busy = true;
    flash(this.status, verdict === 'accept' ? 'Accepting…' : 'Rejecting…', 'info');
    try {
      const comment = this.comment.value.trim();
      const out = await api.post('/api/projects/{project}/decisions/{decision}/review', {
        path: { project: this.project, decision: d.id }, body: { verdict, comment: comment || null } });
      flash(this.status, verdict === 'accept' ? `Accepted #${out.id}.`
        : `Rejected #${out.id}: ${out.author} gets it back${comment ? ' with your comment' : ''}.`, 'ok');
      this.comment.value = '';
      this.comment.blur();
      this.onReviewed(out);
    } catch (error) {
      const text = error instanceof ApiError && error.status === 403
        ? `Not allowed: ${error.detail}` : `Could not save the verdict: ${errorText(error)}`;
      flash(this.status, text, 'error');
    } finally {
      this.busy = false;
    }
  }
}
