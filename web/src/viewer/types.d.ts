declare module '@maplibre/maplibre-gl-compare' {
  import type { Map } from 'maplibre-gl';
  export default class Compare {
    constructor(a: Map, b: Map, container: string | HTMLElement, options?: { orientation?: 'vertical' | 'horizontal'; mousemove?: boolean });
    currentPosition: number;
    setSlider(x: number): void;
    on(type: 'slideend', fn: (event: { currentPosition: number }) => void): this;
    off(type: 'slideend', fn: (event: { currentPosition: number }) => void): this;
    remove(): void;
  }
}
