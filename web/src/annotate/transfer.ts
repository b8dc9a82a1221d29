// Dump the decisions in force as the engine's JSONL, and load such a file (all or nothing).

import { send, type LoadSummary } from '../shared/client';
import { download, flash } from '../shared/util';
import { errorText } from './errors';

export async function dumpDecisions(project: string, line: HTMLElement): Promise<void> {
  try {
    const response = await send('GET', `/api/projects/${encodeURIComponent(project)}/decisions.jsonl`,
      { headers: { Accept: 'application/x-ndjson' } });
    const blob = await response.blob();
    download(blob, `${project}-decisions.jsonl`);
    flash(line, `Dumped ${(await blob.text()).split('\n').filter(Boolean).length} decisions.`, 'ok');
  } catch (error) {
    flash(line, `Dump failed: ${errorText(error)}`, 'error');
  }
}

export async function loadDecisions(project: string, file: File, line: HTMLElement, input: HTMLInputElement,
  after: () => Promise<void>): Promise<void> {
  flash(line, `Loading ${file.name}…`);
  try {
    const text = await file.text();
    const response = await send('POST', `/api/projects/${encodeURIComponent(project)}/decisions.jsonl`,
      { text, contentType: 'application/x-ndjson' });
    const out = (await response.json()) as LoadSummary;
    const byClass = Object.entries(out.by_class).map(([k, v]) => `${k} ${v}`).join(', ');
    flash(line, `Loaded ${file.name}: ${out.added} decisions added (${out.group_decisions} group, ` +
      `${out.mask_decisions} mask), ${out.masks_labelled} masks labelled${byClass ? `: ${byClass}` : ''}.`, 'ok');
    await after();
  } catch (error) {
    flash(line, `Load refused, nothing changed: ${errorText(error)}`, 'error');
  } finally {
    input.value = '';
  }
}
