// The legends of the two compared layers. A class is a toggle button (colour chip + name):
// clicking it hides the class, or, in highlight mode, highlights it and greys out the rest.

import type { Layer, Legend } from './endpoints';
import { el } from '../shared/util';

export interface LegendHost {
  legendFor(layer: Layer): Legend | undefined;
  hiddenOf(layerId: string): number[];
  highlightedOf(layerId: string): number[];
  toggleClass(layerId: string, classId: number, how: 'hide' | 'highlight'): void;
  resetClasses(layerId: string): void;
  showInfo(layer: Layer): void;
}

export function legendMode(): 'hide' | 'highlight' {
  const checked = document.querySelector<HTMLInputElement>('input[name="legend-mode"]:checked');
  return checked?.value === 'highlight' ? 'highlight' : 'hide';
}

export function renderLegends(container: HTMLElement, host: LegendHost, sides: { tag: string; layer: Layer | null }[]): void {
  container.replaceChildren();
  const seen = new Map<string, HTMLElement>();
  for (const { tag, layer } of sides) {
    if (!layer) continue;
    const existing = seen.get(layer.id);
    if (existing) { // the same layer on both sides: one legend, both tags
      existing.querySelector('.legend-tags')?.append(el('span', { class: `side-tag ${tag.toLowerCase()}` }, tag));
      continue;
    }
    const block = legendBlock(host, tag, layer);
    seen.set(layer.id, block);
    container.append(block);
  }
}

function legendBlock(host: LegendHost, tag: string, layer: Layer): HTMLElement {
  const tags = el('span', { class: 'legend-tags', 'aria-hidden': 'true' },
    el('span', { class: `side-tag ${tag.toLowerCase()}` }, tag));
  const header = el('div', { class: 'legend-head' },
    tags,
    el('h3', { id: `legend-title-${layer.id}` }, layer.title),
    provenanceBadge(layer),
    el('button', { type: 'button', class: 'icon-button info small', 'aria-label': `About ${layer.title}: provenance and version`,
      onclick: () => host.showInfo(layer) }, 'i'));
  const block = el('section', { class: 'legend', 'data-layer': layer.id, 'aria-labelledby': `legend-title-${layer.id}` }, header);
  if (layer.kind === 'imagery') {
    block.append(el('p', { class: 'hint' }, 'Imagery (true colour): no classes.'));
    return block;
  }
  const legend = host.legendFor(layer);
  if (!legend) {
    block.append(el('p', { class: 'hint' }, 'Loading the legend…'));
    return block;
  }
  const hidden = new Set(host.hiddenOf(layer.id));
  const highlighted = new Set(host.highlightedOf(layer.id));
  const list = el('ul', { class: 'classes', role: 'list' });
  for (const cls of legend.classes) {
    const isHidden = hidden.has(cls.id);
    const isHighlighted = highlighted.has(cls.id);
    const state = isHidden ? 'hidden' : isHighlighted ? 'highlighted' : highlighted.size ? 'dimmed' : 'shown';
    const label = `${cls.name}${isHidden ? ' (hidden)' : isHighlighted ? ' (highlighted)' : ''}`;
    list.append(el('li', {},
      el('button', {
        type: 'button', class: `class-button ${state}`, 'data-class': cls.id, 'data-state': state,
        'aria-pressed': String(isHidden || isHighlighted), title: `${label}: click to ${legendMode()} (${cls.color})`,
        onclick: () => host.toggleClass(layer.id, cls.id, legendMode()),
      },
      el('span', { class: 'chip', style: `background:${cls.color}`, 'aria-hidden': 'true' }),
      el('span', { class: 'class-name' }, cls.name),
      el('span', { class: 'class-state', 'aria-hidden': 'true' }, isHidden ? 'hidden' : isHighlighted ? '★' : ''))));
  }
  block.append(list);
  if (hidden.size || highlighted.size) {
    block.append(el('button', { type: 'button', class: 'link-button', onclick: () => host.resetClasses(layer.id) },
      'Show all classes'));
  }
  return block;
}

export function provenanceBadge(layer: { provenance: string }): HTMLElement {
  return el('span', { class: `badge ${layer.provenance}`, title: layer.provenance === 'synthetic'
    ? 'Synthetic: made up for the demo, not a real map' : 'Real data' }, layer.provenance);
}
