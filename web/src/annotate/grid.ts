// The grid of mask thumbnails: cards, selection (click, shift-click ranges, a box drawn over
// the grid, keyboard focus) and the time until every thumbnail of a page is drawn.

import { ImageSet, isAbort, type ClassInfo, type Mask, type Schemas } from '../shared/client';
import { el, fill, inkOn } from '../shared/util';

/** A class of the project, as the API gives it. */

/** A mask's area for a caption: m² below a hectare, else ha. */
export function areaText(mask: Mask): string {
  const m2 = mask.area_m2;
  if (m2 === null || m2 === undefined) return `${mask.area} px`;
  return m2 >= 10_000 ? `${(m2 / 10_000).toFixed(2)} ha` : `${Math.round(m2)} m²`;
}

export interface GridOptions {
  node: HTMLElement;
  scroll: HTMLElement;
  band: HTMLElement;
  classes: () => ClassInfo[];
  /** What to show for a mask's class (e.g. hidden in a second labelling). */
  shown: (mask: Mask) => { class_id: number | null; fine: string | null; note?: string };
  onSelection: () => void;
  /** Open a card's enlarged view (its magnifier button). */
  onEnlarge?: (mask: Mask) => void;
}

const DRAG_PX = 6;

export class Grid {
  masks: Mask[] = [];
  readonly selected = new Set<number>();
  focus = 0;
  private anchor: number | null = null;
  private cards = new Map<number, HTMLElement>();
  private images = new ImageSet();
  private suppressClick = false;

  constructor(private readonly o: GridOptions) {
    o.node.addEventListener('click', (e) => this.click(e));
    o.scroll.addEventListener('pointerdown', (e) => this.pointerDown(e));
    o.node.addEventListener('focusin', (e) => {
      const card = (e.target as HTMLElement).closest<HTMLElement>('.card');
      if (card) this.focus = Number(card.dataset.index);
    });
  }

  /** Forget every image (another group): in-flight requests are aborted, object URLs revoked. */
  reset(): void {
    this.images.clear();
    this.selected.clear();
    this.anchor = null;
    this.focus = 0;
  }

  /**
   * Show `masks` (one page); resolves with the number of thumbnails once every one is
   * decoded. Images already loaded for a mask are reused (no request).
   */
  async render(masks: Mask[]): Promise<number> {
    this.masks = masks;
    this.cards.clear();
    this.focus = Math.min(this.focus, Math.max(0, masks.length - 1));
    const loads: Promise<void>[] = [];
    const nodes = masks.map((mask, index) => {
      const img = el('img', { alt: `mask ${mask.patch}_${mask.mask_id}`, width: 192, height: 192, draggable: 'false' });
      const card = el('div', { class: 'card', role: 'option', 'data-id': mask.id, 'data-index': index,
        tabindex: index === this.focus ? 0 : -1 },
      el('div', { class: 'thumb' }, img,
        el('button', { type: 'button', class: 'zoom', tabindex: -1, title: 'Enlarge, with its surroundings (v)',
          'aria-label': `Enlarge mask ${mask.patch}_${mask.mask_id}` }, '⤢')),
      el('div', { class: 'cap' }));
      this.cards.set(mask.id, card);
      this.caption(card, mask);
      loads.push(this.images.into(img, String(mask.id), mask.thumbnail).then(() => {
        card.classList.add('drawn');
      }).catch((error: unknown) => {
        if (isAbort(error)) throw error;
        card.classList.add('failed');
        img.alt = `thumbnail of ${mask.patch}_${mask.mask_id} could not be loaded`;
      }));
      return card;
    });
    this.o.node.replaceChildren(...nodes);
    this.paintSelection();
    await Promise.all(loads);
    await new Promise((resolve) => requestAnimationFrame(() => resolve(null)));
    return masks.length;
  }

  /** New data for masks already shown (after a save): captions only, no image reloads. */
  update(masks: Mask[]): boolean {
    const same = masks.length === this.masks.length && masks.every((m, i) => m.id === this.masks[i].id);
    if (!same) return false;
    this.masks = masks;
    masks.forEach((mask) => {
      const card = this.cards.get(mask.id);
      if (card) this.caption(card, mask);
    });
    return true;
  }

  refreshCaptions(): void {
    this.masks.forEach((mask) => {
      const card = this.cards.get(mask.id);
      if (card) this.caption(card, mask);
    });
  }

  private caption(card: HTMLElement, mask: Mask): void {
    const classes = this.o.classes();
    const shown = this.o.shown(mask);
    const cls = shown.class_id ? classes.find((c) => c.id === shown.class_id) : undefined;
    const pred = classes.find((c) => c.id === mask.pred_class);
    const confidence = mask.confidence === null || mask.confidence === undefined ? '–' : mask.confidence.toFixed(2);
    card.classList.toggle('decided', Boolean(cls));
    card.classList.toggle('refine', mask.refine);
    card.dataset.class = String(shown.class_id ?? '');
    card.style.setProperty('--cls', cls?.color ?? 'transparent');
    const label = cls
      ? el('span', { class: 'cls' }, el('span', { class: 'chip', style: `background:${cls.color}` }),
        el('span', { class: 'cls-name' }, cls.name), shown.fine ? el('span', { class: 'fine' }, `, ${shown.fine}`) : null)
      : el('span', { class: 'cls open' }, shown.note ?? 'undecided',
        pred && pred.id ? el('span', { class: 'pred', title: 'The model\'s prediction' }, ` · pred. ${pred.name}`) : null);
    fill(card.querySelector('.cap')!,
      el('span', { class: 'mid', title: `patch ${mask.patch}, mask ${mask.mask_id}, area ${mask.area} px` },
        `${mask.patch}_${mask.mask_id}`, el('span', { class: 'area' }, ` · ${areaText(mask)}`)),
      el('span', { class: 'conf', title: 'Confidence of the prediction' }, confidence),
      label,
      mask.refine ? el('span', { class: 'badge', title: 'Sent to refinement' }, 'refine') : null,
    );
    card.setAttribute('aria-label', `${mask.patch}_${mask.mask_id}, ${cls ? cls.name : 'undecided'}, confidence ${confidence}`);
    if (cls) card.style.setProperty('--cls-ink', inkOn(cls.color));
  }

  // -- selection ---------------------------------------------------------------------------

  paintSelection(): void {
    for (const [id, card] of this.cards) {
      const on = this.selected.has(id);
      card.classList.toggle('selected', on);
      card.setAttribute('aria-selected', String(on));
    }
    this.o.onSelection();
  }

  set(ids: Iterable<number>, on: boolean): void {
    for (const id of ids) {
      if (on) this.selected.add(id);
      else this.selected.delete(id);
    }
    this.paintSelection();
  }

  toggle(index: number): void {
    const mask = this.masks[index];
    if (!mask) return;
    this.set([mask.id], !this.selected.has(mask.id));
    this.anchor = index;
  }

  range(to: number): void {
    const from = this.anchor ?? to;
    const [lo, hi] = from <= to ? [from, to] : [to, from];
    this.set(this.masks.slice(lo, hi + 1).map((m) => m.id), true);
  }

  clear(): void {
    this.selected.clear();
    this.anchor = null;
    this.paintSelection();
  }

  private click(event: MouseEvent): void {
    if (this.suppressClick) { this.suppressClick = false; return; }
    const card = (event.target as HTMLElement).closest<HTMLElement>('.card');
    if (!card) return;
    const index = Number(card.dataset.index);
    if ((event.target as HTMLElement).closest('.zoom')) {
      const mask = this.masks[index];
      if (mask) this.o.onEnlarge?.(mask);
      return;
    }
    if (event.shiftKey && this.anchor !== null) this.range(index);
    else this.toggle(index);
    this.moveFocus(index, false);
  }

  // -- keyboard focus ----------------------------------------------------------------------

  columns(): number {
    const cards = [...this.cards.values()];
    if (cards.length < 2) return 1;
    const top = cards[0].offsetTop;
    const n = cards.findIndex((c) => c.offsetTop !== top);
    return n < 0 ? cards.length : n;
  }

  moveFocus(index: number, scroll = true): void {
    if (!this.masks.length) return;
    const target = Math.max(0, Math.min(this.masks.length - 1, index));
    const cards = [...this.cards.values()];
    cards[this.focus]?.setAttribute('tabindex', '-1');
    this.focus = target;
    const card = cards[target];
    card.setAttribute('tabindex', '0');
    card.focus({ preventScroll: !scroll });
    if (scroll) card.scrollIntoView({ block: 'nearest' });
  }

  /** Arrow keys: move focus; with Shift, select the cards passed over. */
  step(dx: number, dy: number, extend: boolean): void {
    const from = this.focus;
    const to = Math.max(0, Math.min(this.masks.length - 1, from + dx + dy * this.columns()));
    if (extend) {
      this.anchor ??= from;
      this.range(to);
    }
    this.moveFocus(to);
  }

  toggleFocused(): void {
    this.toggle(this.focus);
  }

  // -- the box drawn over the grid ---------------------------------------------------------

  private pointerDown(event: PointerEvent): void {
    if (event.button !== 0 || event.pointerType === 'touch') return; // touch scrolls; a tap toggles
    if ((event.target as HTMLElement).closest('button, a, input, select')) return;
    const scroll = this.o.scroll;
    const box = scroll.getBoundingClientRect();
    const start = { x: event.clientX - box.left + scroll.scrollLeft, y: event.clientY - box.top + scroll.scrollTop };
    const before = new Set(this.selected);
    const remove = event.altKey;
    let active = false;
    const move = (e: PointerEvent) => {
      const b = scroll.getBoundingClientRect();
      const now = { x: e.clientX - b.left + scroll.scrollLeft, y: e.clientY - b.top + scroll.scrollTop };
      if (!active && Math.hypot(now.x - start.x, now.y - start.y) < DRAG_PX) return;
      if (!active) {
        active = true;
        scroll.setPointerCapture(e.pointerId);
        this.o.band.hidden = false;
        document.body.classList.add('banding');
      }
      const left = Math.min(start.x, now.x);
      const top = Math.min(start.y, now.y);
      const width = Math.abs(now.x - start.x);
      const height = Math.abs(now.y - start.y);
      Object.assign(this.o.band.style, { left: `${left}px`, top: `${top}px`, width: `${width}px`, height: `${height}px` });
      const hit = { left: left + b.left - scroll.scrollLeft, top: top + b.top - scroll.scrollTop };
      const right = hit.left + width;
      const bottom = hit.top + height;
      this.selected.clear();
      before.forEach((id) => this.selected.add(id));
      for (const [id, card] of this.cards) {
        const r = card.getBoundingClientRect();
        if (r.right < hit.left || r.left > right || r.bottom < hit.top || r.top > bottom) continue;
        if (remove) this.selected.delete(id);
        else this.selected.add(id);
      }
      this.paintSelection();
    };
    const up = () => {
      scroll.removeEventListener('pointermove', move);
      scroll.removeEventListener('pointerup', up);
      scroll.removeEventListener('pointercancel', up);
      if (active) {
        this.suppressClick = true;
        window.setTimeout(() => { this.suppressClick = false; }, 0);
        this.o.band.hidden = true;
        document.body.classList.remove('banding');
      }
    };
    scroll.addEventListener('pointermove', move);
    scroll.addEventListener('pointerup', up);
    scroll.addEventListener('pointercancel', up);
  }
}
