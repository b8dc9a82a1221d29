// One decision of the review list: what it labelled (group or mask), class, author, time,
// masks count, a few thumbnails; expanded, every mask of it with its class before -> after.

import { api, ImageSet, isAbort, type Decision, type Schemas } from '../shared/client';
import { el, when } from '../shared/util';
import { enlarge, thumbnailOf } from '../shared/enlarge';
import { classTag, errorText, thumbPath, type ClassInfo } from './common';

type Detail = Schemas['DecisionDetail'];

interface MaskLine {
  id: number;
  patch: string;
  mask_id: number;
  before_class: number | null;
  class_id: number | null;
  from_this_decision: boolean;
}

const PREVIEW = 4;
const EXPANDED_MAX = 240;

export interface RowContext {
  project: string;
  classes: ClassInfo[];
  images: ImageSet;
}

function maskLines(detail: Detail): MaskLine[] {
  return detail.mask_list.map((m) => ({
    id: Number(m.id), patch: String(m.patch), mask_id: Number(m.mask_id),
    before_class: m.before_class === null || m.before_class === undefined ? null : Number(m.before_class),
    class_id: m.class_id === null || m.class_id === undefined ? null : Number(m.class_id),
    from_this_decision: Boolean(m.from_this_decision),
  }));
}

export function reviewBadge(d: Decision): HTMLElement {
  const text = d.review === 'pending' ? 'pending' : `${d.review} by ${d.reviewer ?? '?'}`;
  return el('span', { class: `badge review-${d.review}`, 'data-review': d.review }, text);
}

function what(d: Decision): string {
  if (d.target === 'group') return `group ${d.group ?? '?'} of ${d.neighbourhood ?? '?'}`;
  return `mask ${d.mask ?? '?'} of patch ${d.patch ?? '?'}`;
}

export class DecisionRow {
  readonly node: HTMLLIElement;
  private detail: Detail | null = null;
  private loading: Promise<Detail> | null = null;
  private readonly thumbs: HTMLElement;
  private readonly body: HTMLElement;
  private readonly toggle: HTMLButtonElement;
  private readonly badgeSlot: HTMLElement;
  private readonly commentSlot: HTMLElement;

  constructor(public decision: Decision, private readonly ctx: RowContext, index: number) {
    const d = decision;
    this.thumbs = el('div', { class: 'thumbs', 'aria-label': 'Some masks of the decision' });
    this.body = el('div', { class: 'row-masks', hidden: true });
    this.toggle = el('button', { type: 'button', class: 'button small expand', 'aria-expanded': 'false',
      title: 'Every mask of the decision (Enter)' }, 'All masks');
    this.toggle.addEventListener('click', (e) => { e.stopPropagation(); void this.setExpanded(!this.expanded); });
    this.badgeSlot = el('span', { class: 'badge-slot' }, reviewBadge(d));
    this.commentSlot = el('p', { class: 'review-comment' }, d.review_comment ? `“${d.review_comment}”` : '');
    this.node = el('li', { class: 'decision', role: 'option', 'aria-selected': 'false', tabindex: -1,
      'data-id': d.id, 'data-index': index, 'data-author': d.author },
    el('div', { class: 'row-main' },
      el('div', { class: 'row-what' },
        el('strong', {}, what(d)),
        el('span', { class: 'target' }, d.target === 'group' ? 'cluster decision' : 'mask correction'),
        d.second_pass ? el('span', { class: 'badge second' }, 'second pass') : null,
        d.state === 'undone' ? el('span', { class: 'badge undone' }, `undone${d.undone_by ? ` by ${d.undone_by}` : ''}`) : null),
      el('div', { class: 'row-class' }, classTag(ctx.classes, d.class_id, d.class_name),
        d.fine_class ? el('span', { class: 'fine' }, d.fine_class) : null),
      el('div', { class: 'row-who' }, el('span', { class: 'author' }, d.author), ' · ',
        el('time', { datetime: d.created_at, title: new Date(d.created_at).toLocaleString() }, when(d.created_at)),
        d.elapsed_s !== null && d.elapsed_s !== undefined ? el('span', { class: 'elapsed' }, ` · ${d.elapsed_s.toFixed(1)} s`) : null),
      el('div', { class: 'row-count' }, el('span', { class: 'masks-count', 'data-masks': d.masks },
        `${d.masks} mask${d.masks === 1 ? '' : 's'}`)),
      this.thumbs,
      el('div', { class: 'row-end' }, this.badgeSlot, this.toggle)),
    this.commentSlot,
    this.body);
  }

  get expanded(): boolean {
    return !this.body.hidden;
  }

  /** The decision's masks (GET /decisions/{id}), once. */
  private fetchDetail(): Promise<Detail> {
    this.loading ??= api.get('/api/projects/{project}/decisions/{decision}',
      { path: { project: this.ctx.project, decision: this.decision.id } }).then((d) => { this.detail = d; return d; });
    return this.loading;
  }

  /** A few thumbnails of the decision's masks. */
  async loadPreview(): Promise<void> {
    const d = this.decision;
    let masks: { patch: string; mask_id: number }[];
    if (d.target === 'mask' && d.patch && d.mask) {
      masks = [{ patch: d.patch, mask_id: d.mask }];
    } else {
      try {
        masks = maskLines(await this.fetchDetail()).slice(0, PREVIEW);
      } catch (error) {
        if (!isAbort(error)) this.thumbs.replaceChildren(el('span', { class: 'note' }, errorText(error)));
        return;
      }
    }
    const imgs = masks.map((m) => this.zoomable(el('img', { class: 'thumb', width: 96, height: 96,
      alt: `mask ${m.mask_id} of ${m.patch}`, loading: 'lazy', 'data-mask': `${m.patch}/${m.mask_id}` }), m));
    this.thumbs.replaceChildren(...imgs);
    if (d.masks > masks.length) this.thumbs.append(el('span', { class: 'more' }, `+${d.masks - masks.length}`));
    await Promise.all(masks.map((m, i) => this.ctx.images.into(imgs[i], `p${d.id}/${m.patch}/${m.mask_id}`,
      thumbPath(this.ctx.project, m.patch, m.mask_id, 192)).catch(() => undefined)));
  }

  /** A click on a thumbnail opens it large, with its surroundings. */
  private zoomable(img: HTMLImageElement, m: { patch: string; mask_id: number }): HTMLImageElement {
    img.title = 'Click: enlarge, with its surroundings';
    img.classList.add('zoomable');
    img.addEventListener('click', (event) => {
      event.stopPropagation();
      enlarge({ id: `${m.patch}/${m.mask_id}`, thumbnail: thumbnailOf(this.ctx.project, m.patch, m.mask_id),
        title: `${m.patch} #${m.mask_id}`, caption: `decision #${this.decision.id}: ${this.decision.class_name}` });
    });
    return img;
  }

  async setExpanded(open: boolean): Promise<void> {
    this.body.hidden = !open;
    this.toggle.setAttribute('aria-expanded', String(open));
    this.node.classList.toggle('open', open);
    if (!open) return;
    if (this.body.childElementCount) return;
    this.body.append(el('p', { class: 'note' }, 'Loading the masks…'));
    let lines: MaskLine[];
    try {
      lines = maskLines(this.detail ?? await this.fetchDetail());
    } catch (error) {
      this.body.replaceChildren(el('p', { class: 'note error' }, errorText(error)));
      return;
    }
    const shown = lines.slice(0, EXPANDED_MAX);
    const cards = shown.map((m) => {
      const img = this.zoomable(el('img', { class: 'thumb', width: 160, height: 160,
        alt: `mask ${m.mask_id} of ${m.patch}` }), m); // fetched by the image set anyway: decoded at once
      const now = m.from_this_decision ? null
        : el('span', { class: 'now', title: 'The class the mask has now (another decision or this one not in force)' },
          'now ', classTag(this.ctx.classes, m.class_id));
      const card = el('figure', { class: 'mask-card', 'data-mask': `${m.patch}/${m.mask_id}` }, img,
        el('figcaption', {},
          el('span', { class: 'mask-name' }, `${m.patch} #${m.mask_id}`),
          el('span', { class: 'change' }, classTag(this.ctx.classes, m.before_class), el('span', { 'aria-label': 'to' }, ' → '),
            classTag(this.ctx.classes, this.decision.class_id, this.decision.class_name)),
          now));
      void this.ctx.images.into(img, `x${this.decision.id}/${m.id}`, thumbPath(this.ctx.project, m.patch, m.mask_id, 320))
        .catch(() => undefined);
      return card;
    });
    this.body.replaceChildren(el('div', { class: 'mask-cards' }, ...cards));
    if (lines.length > shown.length) this.body.append(el('p', { class: 'note' }, `and ${lines.length - shown.length} more masks`));
  }

  /** Show a new state of the decision (after a verdict). */
  update(decision: Decision): void {
    this.decision = decision;
    this.badgeSlot.replaceChildren(reviewBadge(decision));
    this.commentSlot.textContent = decision.review_comment ? `“${decision.review_comment}”` : '';
    this.node.dataset.review = decision.review;
  }

  select(on: boolean): void {
    this.node.setAttribute('aria-selected', String(on));
    this.node.classList.toggle('current', on);
  }
}
