// The viewer's line about a map's accuracy: the latest assessment of the layer version on
// screen ("OA 86.2 % ± 2.1 (95 % CI), 612 points, assessed 2026-12-01"), or that it has none.

import { endpoints, type LayerAssessment } from './endpoints';
import { el } from '../shared/util';


/** The sentence for an assessment record (exported for the tests' sake). */
export function assessmentText(a: LayerAssessment): string {
  const oa = a.overall_accuracy;
  if (a.sample == null || !oa || oa.estimate == null) {
    return (a.earlier_versions ?? 0) > 0
      ? 'This version of the map has not been assessed yet (earlier versions were).'
      : 'No accuracy assessment of this map yet.';
  }
  const day = a.assessed_at ? a.assessed_at.slice(0, 10) : '';
  const half = oa.ci95 == null ? '' : ` ± ${(100 * oa.ci95).toFixed(1)}`;
  return `OA ${(100 * oa.estimate).toFixed(1)} %${half} (95 % CI), ${a.n} points${day ? `, assessed ${day}` : ''}`
    + (a.simulated ? ' (simulated response from a reference raster)' : '')
    + (a.independent === false ? ' (sample no longer independent)' : '');
}

/** A <dd> child filled once the assessment of the layer version on screen is known. */
export function accuracyNode(city: string, layer: string): HTMLElement {
  const node = el('span', { class: 'assessment', id: 'layer-assessment' }, '…');
  endpoints.assessment(city, layer)
    .then((a) => { node.textContent = assessmentText(a); node.dataset.sample = String(a.sample ?? ''); })
    .catch(() => { node.textContent = 'Accuracy assessment unavailable.'; });
  return node;
}
