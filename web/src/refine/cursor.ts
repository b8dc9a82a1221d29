// A keyboard cursor on the patch images, to pick masks without a mouse: `m` shows it (at the
// last pick, or the centre), the arrows move it (Shift: four times farther; finer when zoomed,
// and a zoomed view pans to keep it in sight), Enter or Space picks the mask under it (mask-at,
// as a click does; Shift+Enter adds it to the selected rows), Escape hides it.

import { addShortcuts } from '../shared/keys';
import type { Pick, Views } from './views';

/** Steps across a patch at 1× (a 1024 px patch: 16 px a step). */
const STEPS = 64;

export class Cursor {
  on = false;
  x = -1;
  y = -1;

  constructor(private readonly views: Views, private readonly pick: (pick: Pick) => void) {}

  /** `m`: show the cursor (and move the keys' focus onto the imagery), or hide it. */
  toggle(): void {
    if (this.on) { this.hide(); return; }
    if (!this.views.width) return;
    this.on = true;
    if (this.x < 0) this.place(this.views.width / 2, this.views.height / 2); // the first time: the centre
    else this.place(this.x, this.y);
    document.getElementById('image-stage')?.focus({ preventScroll: true });
  }

  hide(): void {
    this.on = false;
    this.views.drawCursor(null);
  }

  /** Where a mouse pick happened: the cursor goes on from there. */
  follow(x: number, y: number): void {
    this.x = x;
    this.y = y;
    if (this.on) this.place(x, y);
  }

  /** The arrows: move by one step (`far`: four) in patch pixels, finer the more the view is zoomed. */
  move(dx: number, dy: number, far: boolean): void {
    if (!this.on) return;
    const step = Math.max(1, Math.floor(Math.max(this.views.width, this.views.height) / STEPS / this.views.zoom.level))
      * (far ? 4 : 1);
    this.place(this.x + dx * step, this.y + dy * step);
    this.views.zoom.reveal((this.x + 0.5) / this.views.width, (this.y + 0.5) / this.views.height);
  }

  /** Enter or Space: pick the mask under the cursor. */
  select(extend: boolean): void {
    if (!this.on || !this.views.width) return;
    this.pick({ x: this.x, y: this.y, extend });
  }

  /** Draw it again (a new patch: kept where it was, inside the new patch). */
  redraw(): void {
    if (this.on && this.views.width) this.place(this.x, this.y);
  }

  private place(x: number, y: number): void {
    const { width, height } = this.views;
    if (!width) return;
    this.x = Math.min(width - 1, Math.max(0, Math.floor(x)));
    this.y = Math.min(height - 1, Math.max(0, Math.floor(y)));
    this.views.drawCursor({ x: this.x, y: this.y });
  }

  /** Its keys, listed by `?`: while it shows, the arrows, Enter, Space and Escape are its own. */
  addKeys(): void {
    const on = () => this.on;
    const steps: Record<string, [number, number]> = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
    const move = (e: KeyboardEvent) => { const [dx, dy] = steps[e.key] ?? [0, 0]; this.move(dx, dy, e.shiftKey); };
    addShortcuts(
      { keys: ['m'], label: 'Show or hide a cursor on the images, to pick masks without a mouse', group: 'Cursor',
        run: () => this.toggle() },
      { keys: ['ArrowLeft', 'ArrowRight', 'ArrowUp', 'ArrowDown'], shown: '← → ↑ ↓',
        label: 'With the cursor shown: move it (finer when zoomed)', group: 'Cursor', when: on, run: move },
      { keys: ['Shift+ArrowLeft', 'Shift+ArrowRight', 'Shift+ArrowUp', 'Shift+ArrowDown'], shown: 'Shift + ← → ↑ ↓',
        label: 'With the cursor shown: move it four times farther', group: 'Cursor', when: on, run: move },
      { keys: ['Enter', 'Space'], label: 'With the cursor shown: pick the mask under it (a row, as a click)', group: 'Cursor',
        when: on, run: () => this.select(false) },
      { keys: ['Shift+Enter'], label: 'With the cursor shown: pick the mask under it, adding it to the selected rows',
        group: 'Cursor', when: on, run: () => this.select(true) },
      { keys: ['Escape'], label: 'Hide the cursor (the arrows page and select rows again)', group: 'Cursor', when: on,
        run: () => this.hide() },
    );
  }
}
