// Which of a city's layers come first, which two are compared by default, and their short names.

import type { City, Layer } from './endpoints';
import { narrowQuery } from '../shared/util';

const KIND_ORDER = ['mcae', 'sinolc1', 'agreement', 'other', 'imagery'];
const KIND_NAMES: Record<string, string> = { imagery: 'Imagery', mcae: 'MCAE', sinolc1: 'SinoLC-1', agreement: 'Agreement' };

/** The city's layers, maps first: MCAE, SinoLC-1, agreement, others, imagery. */
export function sortLayers(city: City): Layer[] {
  return [...city.layers].sort((x, y) => KIND_ORDER.indexOf(x.kind) - KIND_ORDER.indexOf(y.kind));
}

/** Sides A and B for a city opened afresh: MCAE beside SinoLC-1 when it has them, two distinct layers if it can. */
export function defaultLayers(city: City): [string | null, string | null] {
  const of = (kind: string) => city.layers.find((l) => l.kind === kind)?.id ?? null;
  const categorical = city.layers.filter((l) => l.kind !== 'imagery');
  const a = of('mcae') ?? of('imagery') ?? city.layers[0]?.id ?? null;
  const b = of('sinolc1') ?? categorical.find((l) => l.id !== a)?.id ?? of('imagery') ?? a;
  return [a, b === a && city.layers.length > 1 ? city.layers.find((l) => l.id !== a)!.id : b];
}

/** On phones the layer pickers are narrow: the kind of a layer when it is the only one of its kind. */
export function shortTitle(city: City, layer: Layer): string {
  const unique = city.layers.filter((l) => l.kind === layer.kind).length === 1;
  return narrowQuery.matches && unique && KIND_NAMES[layer.kind] ? KIND_NAMES[layer.kind] : layer.title;
}
