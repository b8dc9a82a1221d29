// The group's history in the side panel: its decisions (undo buttons where allowed), with the
// reviewer's verdict and comment; rejections of decisions made under an earlier grouping too.

import type { Decision, Group } from '../shared/client';
import { el, when } from '../shared/util';
import type { ClassInfo } from '../shared/client';

type Rejection = NonNullable<Group['rejections']>[number];

export function renderHistory(node: HTMLElement, history: Decision[], rejections: Rejection[], classes: ClassInfo[],
  canUndo: (d: Decision) => boolean, onUndo: (d: Decision) => void): void {
  if (!history.length && rejections.length) { // decided under an earlier grouping: its rejections still show
    node.replaceChildren(...rejections.map((r) => el('li', { class: 'decision active', 'data-decision': r.decision },
      el('span', { class: 'what' }, el('strong', {}, r.class_name), ` · ${r.masks} mask${r.masks === 1 ? '' : 's'}`),
      el('span', { class: 'by' }, `${r.author}`, el('span', { class: 'badge rejected' }, `rejected by ${r.reviewer ?? '?'}`)),
      r.comment ? el('span', { class: 'review-comment' }, r.comment) : null)));
    return;
  }
  if (!history.length) {
    node.replaceChildren(el('li', { class: 'note' }, 'No decision on this group yet.'));
    return;
  }
  node.replaceChildren(...history.map((d) => {
    const cls = classes.find((c) => c.id === d.class_id);
    return el('li', { class: `decision ${d.state}`, 'data-decision': d.id, 'data-author': d.author },
      el('span', { class: 'chip', style: `background:${cls?.color ?? '#000'}` }),
      el('span', { class: 'what' }, el('strong', {}, d.class_name), d.fine_class ? `, ${d.fine_class}` : '',
        ` · ${d.masks} mask${d.masks === 1 ? '' : 's'}`),
      el('span', { class: 'by' }, `${d.author}, ${when(d.created_at)}`,
        d.second_pass ? el('span', { class: 'badge' }, '2nd pass') : null,
        d.state === 'undone' ? el('span', { class: 'badge' }, `undone${d.undone_by ? ` by ${d.undone_by}` : ''}`) : null,
        d.review !== 'pending' ? el('span', { class: `badge ${d.review}` }, d.review) : null,
        d.review === 'rejected' && d.review_comment ? el('span', { class: 'review-comment' }, `${d.reviewer ?? ''}: ${d.review_comment}`) : null),
      canUndo(d) ? el('button', { type: 'button', class: 'button small', title: `Undo decision #${d.id} as a whole`,
        onclick: () => onUndo(d) }, 'Undo') : null);
  }));
}
