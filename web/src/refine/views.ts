// The two views of a patch: the imagery (with the classification blended over it at an
// adjustable opacity) and the classification; a click on either is turned into patch pixels,
// and every row's click is marked with a cross on both.

import { ImageSet, isAbort } from '../shared/client';
import { svg } from '../shared/svg';
import type { Row } from './rows';
import { Zoom } from './zoom';

export interface Pick {
  x: number; // column, patch pixels
  y: number; // row
  extend: boolean; // Shift or Ctrl held
}

export class Views {
  private readonly image = document.getElementById('image') as HTMLImageElement;
  private readonly classes = document.getElementById('classification') as HTMLImageElement;
  private readonly blendLayer = document.getElementById('blend-layer') as HTMLImageElement;
  private readonly stages = [document.getElementById('image-stage') as HTMLElement,
    document.getElementById('class-stage') as HTMLElement];
  private readonly marks = [document.getElementById('image-marks') as unknown as SVGSVGElement,
    document.getElementById('class-marks') as unknown as SVGSVGElement];
  private readonly slider = document.getElementById('blend') as HTMLInputElement;
  private readonly sliderValue = document.getElementById('blend-value') as HTMLOutputElement;
  private readonly images = new ImageSet();
  private classRequest = 0;
  private lastBlend = 50;
  readonly zoom = new Zoom(this.stages, this.stages.map((s) => s.querySelector<HTMLElement>('.zoom-layer')!),
    document.getElementById('zoom-level'));
  /** The patch's size in its own pixels (width, height). */
  width = 0;
  height = 0;
  /** The keyboard cursor (cursor.ts), drawn over the crosses; null: hidden. */
  private cursor: { x: number; y: number } | null = null;

  constructor(onPick: (pick: Pick) => void) {
    for (const stage of this.stages) {
      stage.addEventListener('click', (event) => {
        if (!this.width) return;
        if (this.zoom.panned) { this.zoom.panned = false; return; } // the end of a drag, not a pick
        const box = (stage.querySelector('.zoom-layer') ?? stage).getBoundingClientRect(); // zoomed and panned
        const x = Math.floor(((event.clientX - box.left) / box.width) * this.width);
        const y = Math.floor(((event.clientY - box.top) / box.height) * this.height);
        onPick({ x: Math.min(this.width - 1, Math.max(0, x)), y: Math.min(this.height - 1, Math.max(0, y)),
          extend: event.shiftKey || event.ctrlKey || event.metaKey });
      });
    }
    this.slider.addEventListener('input', () => this.setBlend(Number(this.slider.value)));
    // the page's shortcuts skip fields; on the slider, `b` still toggles the blend
    this.slider.addEventListener('keydown', (event) => {
      if (event.key !== 'b' || event.ctrlKey || event.metaKey || event.altKey) return;
      event.preventDefault();
      this.toggleBlend();
    });
    this.setBlend(Number(this.slider.value));
  }

  /** The opacity of the classification over the imagery, 0-100. */
  get blend(): number {
    return Number(this.slider.value);
  }

  setBlend(value: number): void {
    const v = Math.max(0, Math.min(100, Math.round(value)));
    if (v > 0) this.lastBlend = v;
    this.slider.value = String(v);
    this.sliderValue.value = `${v} %`;
    this.sliderValue.textContent = `${v} %`;
    this.blendLayer.style.opacity = String(v / 100);
    this.blendLayer.hidden = v === 0;
    this.stages[0].dataset.blend = String(v);
  }

  /** `b`: blend off, or back to the last opacity (50 % the first time). */
  toggleBlend(): void {
    this.setBlend(this.blend > 0 ? 0 : this.lastBlend);
  }

  /** Forget the current patch's images (a new patch is coming). */
  reset(): void {
    this.images.clear();
    this.classRequest += 1;
    this.width = 0;
    this.height = 0;
    this.zoom.reset();
    for (const img of [this.image, this.classes, this.blendLayer]) img.removeAttribute('src');
    this.marks.forEach((m) => m.replaceChildren());
    this.stages.forEach((s) => { delete s.dataset.cursor; });
  }

  /** Load the imagery (its size is the patch's size in pixels). */
  async loadImage(path: string, fallbackSize: number): Promise<void> {
    this.stages.forEach((s) => s.classList.add('loading'));
    try {
      await this.images.into(this.image, 'image', path);
      this.width = this.image.naturalWidth || fallbackSize;
      this.height = this.image.naturalHeight || fallbackSize;
      for (const stage of this.stages) {
        stage.style.setProperty('--ratio', String(this.width / this.height));
        stage.dataset.width = String(this.width);
        stage.dataset.height = String(this.height);
      }
      this.marks.forEach((m) => m.setAttribute('viewBox', `0 0 ${this.width} ${this.height}`));
      this.stages[0].dataset.loaded = path;
    } finally {
      this.stages[0].classList.remove('loading');
    }
  }

  /**
   * Load the classification from `path`; `fresh` asks the server again even for a path
   * already shown (after a save the same path has new content and a new ETag).
   * Only the latest request is drawn.
   */
  async loadClassification(path: string, fresh = false): Promise<void> {
    const request = ++this.classRequest;
    const stage = this.stages[1];
    stage.classList.add('loading');
    try {
      const url = (!fresh && this.images.url('class', path)) || await this.images.load('class', path);
      if (request !== this.classRequest) return;
      this.classes.src = url;
      this.blendLayer.src = url;
      await this.classes.decode().catch(() => undefined);
      if (request !== this.classRequest) return;
      stage.dataset.loaded = path;
      stage.dataset.loads = String(Number(stage.dataset.loads ?? '0') + 1);
    } catch (error) {
      if (!isAbort(error)) throw error;
    } finally {
      if (request === this.classRequest) stage.classList.remove('loading');
    }
  }

  /** A cross at each row's click on both views; the selected rows' crosses stand out. */
  drawMarks(rows: readonly Row[], selected: (maskId: number) => boolean): void {
    if (!this.width) return;
    const arm = Math.max(2, Math.round(Math.max(this.width, this.height) * 0.025));
    for (const layer of this.marks) {
      layer.replaceChildren(...rows.map((row, index) => {
        const on = selected(row.seen.mask_id);
        const cx = row.x + 0.5;
        const cy = row.y + 0.5;
        const a = on ? arm * 1.6 : arm;
        const g = svg('g', { class: `cross${on ? ' selected' : ''}${row.on ? '' : ' off'}`, 'data-mask': row.seen.mask_id,
          'data-x': row.x, 'data-y': row.y });
        const path = `M ${cx - a} ${cy} H ${cx + a} M ${cx} ${cy - a} V ${cy + a}`;
        g.append(svg('path', { d: path, class: 'halo', 'vector-effect': 'non-scaling-stroke' }),
          svg('path', { d: path, class: 'arm', 'vector-effect': 'non-scaling-stroke' }));
        const label = svg('text', { x: cx + a * 0.55, y: cy - a * 0.45, class: 'label', 'font-size': a * 1.1 });
        label.textContent = String(index + 1);
        g.append(label);
        return g;
      }));
    }
    this.drawCursor(this.cursor);
  }

  /** The keyboard cursor at a patch pixel on both views (a ring around it), or none. */
  drawCursor(at: { x: number; y: number } | null): void {
    this.cursor = at;
    for (const [index, layer] of this.marks.entries()) {
      layer.querySelector(':scope > .kcursor')?.remove();
      delete this.stages[index].dataset.cursor;
      if (!at || !this.width) continue;
      const r = Math.max(3, Math.round(Math.max(this.width, this.height) * 0.02));
      const cx = at.x + 0.5;
      const cy = at.y + 0.5;
      const g = svg('g', { class: 'kcursor', 'data-x': at.x, 'data-y': at.y });
      const ring = `M ${cx - r} ${cy - r} H ${cx + r} V ${cy + r} H ${cx - r} Z`;
      const ticks = `M ${cx - 2 * r} ${cy} H ${cx - r} M ${cx + r} ${cy} H ${cx + 2 * r} `
        + `M ${cx} ${cy - 2 * r} V ${cy - r} M ${cx} ${cy + r} V ${cy + 2 * r}`;
      for (const d of [ring, ticks]) {
        g.append(svg('path', { d, class: 'halo', 'vector-effect': 'non-scaling-stroke' }),
          svg('path', { d, class: 'ring', 'vector-effect': 'non-scaling-stroke' }));
      }
      g.append(svg('rect', { x: at.x, y: at.y, width: 1, height: 1, class: 'dot' }));
      layer.append(g);
      this.stages[index].dataset.cursor = `${at.x},${at.y}`;
    }
  }
}
