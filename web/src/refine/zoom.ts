// Zoom and pan of the refine views: a 1024 px patch shown at ~420 px is too small to pick
// masks in. The wheel (or + and -) zooms around the cursor (or the centre), a drag pans, `z`
// fits the patch again; both views move together. Clicks still pick the mask under them (the
// views turn client coordinates into patch pixels through the transformed layer's box).

const MAX = 8;
const DRAG_PX = 4;

export class Zoom {
  private scale = 1;
  private tx = 0;
  private ty = 0;
  private drag: { x: number; y: number; tx: number; ty: number; moved: boolean } | null = null;
  /** A pan just ended: the click that follows it is not a pick. */
  panned = false;

  constructor(private readonly stages: HTMLElement[], private readonly layers: HTMLElement[],
    private readonly label: HTMLElement | null) {
    for (const stage of stages) {
      stage.addEventListener('wheel', (e) => {
        e.preventDefault();
        const box = stage.getBoundingClientRect();
        this.zoomAt(e.deltaY < 0 ? 1.25 : 0.8, e.clientX - box.left, e.clientY - box.top, box);
      }, { passive: false });
      stage.addEventListener('pointerdown', (e) => {
        if (e.button !== 0 || this.scale === 1) return;
        this.drag = { x: e.clientX, y: e.clientY, tx: this.tx, ty: this.ty, moved: false };
      });
      stage.addEventListener('pointermove', (e) => {
        const d = this.drag;
        if (!d) return;
        const dx = e.clientX - d.x;
        const dy = e.clientY - d.y;
        if (!d.moved && Math.hypot(dx, dy) < DRAG_PX) return;
        if (!d.moved) stage.setPointerCapture(e.pointerId);
        d.moved = true;
        stage.classList.add('panning');
        this.tx = d.tx + dx;
        this.ty = d.ty + dy;
        this.apply(stage.getBoundingClientRect());
      });
      const end = () => {
        if (this.drag?.moved) this.panned = true;
        this.drag = null;
        stage.classList.remove('panning');
      };
      stage.addEventListener('pointerup', end);
      stage.addEventListener('pointercancel', end);
    }
  }

  get level(): number {
    return this.scale;
  }

  /** Zoom by `factor` around a point of the stage (px from its top-left; default its centre). */
  zoomAt(factor: number, px?: number, py?: number, box = this.stages[0].getBoundingClientRect()): void {
    const next = Math.min(MAX, Math.max(1, this.scale * factor));
    const x = px ?? box.width / 2;
    const y = py ?? box.height / 2;
    // keep the patch pixel under (x, y) where it is
    this.tx = x - ((x - this.tx) * next) / this.scale;
    this.ty = y - ((y - this.ty) * next) / this.scale;
    this.scale = next;
    this.apply(box);
  }

  /** Zoomed in: pan so that the patch point at fractions (fx, fy) of its size is in sight. */
  reveal(fx: number, fy: number): void {
    if (this.scale === 1) return;
    const box = this.stages[0].getBoundingClientRect();
    const x = this.tx + fx * box.width * this.scale;
    const y = this.ty + fy * box.height * this.scale;
    const inside = (v: number, size: number) => v >= size * 0.1 && v <= size * 0.9;
    if (!inside(x, box.width)) this.tx = box.width / 2 - fx * box.width * this.scale;
    if (!inside(y, box.height)) this.ty = box.height / 2 - fy * box.height * this.scale;
    this.apply(box);
  }

  /** Fit the patch again (a new patch, or `z`). */
  reset(): void {
    this.scale = 1;
    this.tx = 0;
    this.ty = 0;
    this.apply(this.stages[0].getBoundingClientRect());
  }

  private apply(box: DOMRect): void {
    // never pan the patch out of view
    this.tx = Math.min(0, Math.max(box.width * (1 - this.scale), this.tx));
    this.ty = Math.min(0, Math.max(box.height * (1 - this.scale), this.ty));
    const transform = this.scale === 1 ? '' : `translate(${this.tx}px, ${this.ty}px) scale(${this.scale})`;
    for (const layer of this.layers) layer.style.transform = transform;
    for (const stage of this.stages) {
      stage.classList.toggle('zoomed', this.scale > 1);
      stage.dataset.zoom = this.scale.toFixed(2);
    }
    if (this.label) this.label.textContent = `${this.scale.toFixed(this.scale % 1 ? 1 : 0)}×`;
  }
}
