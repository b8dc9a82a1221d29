// What the page says: the status line, the banner (a rejection, a lease, a second labelling, a
// conflict) and the open group's summary.

import { el, flash, pct, sharePct } from '../shared/util';
import type { Group } from '../shared/client';
import { nextGroup } from './open';
import { errorText as errorTextOf } from './errors';
import { ha } from './pickers';
import { classes, page } from './state';
import { ui } from './ui';

export function status(text: string, kind: 'ok' | 'error' | 'info' = 'info'): void {
  flash(ui.status, text, kind);
}

export function banner(content: (Node | string)[] | null, kind: 'warn' | 'info' | 'error' = 'warn'): void {
  if (!content) { ui.banner.hidden = true; ui.banner.replaceChildren(); return; }
  ui.banner.hidden = false;
  ui.banner.dataset.kind = kind;
  ui.banner.replaceChildren(...content);
}

export const errorText = (error: unknown): string => errorTextOf(error, page.user?.role);

/** The open group's line, its areas, and the banner its state calls for. */
export function describeGroup(): void {
  const g = page.group;
  if (!g) { ui.summary.textContent = ''; return; }
  ui.summary.title = `The engine's line: ${g.summary}`;
  ui.summary.replaceChildren(el('strong', {}, `${g.neighbourhood} / ${g.key}`), ` · group ${g.index} of ${g.of} · `,
    confidence(g), el('br'), ...mixLine(g),
    el('br'), `${g.decided}/${g.size} decided · ${g.open} open · ${g.refine} to refine · version ${g.version}`,
    el('br'), el('span', { id: 'group-area' }, `${ha(g.area_ha)} (${sharePct(g.share ?? 0)} of the project's area) · `
      + `${ha(g.decided_ha)} decided · ${ha(g.open_ha)} open · map gain ${ha(g.gain_ha)}`));
  const rejected = (g.rejections ?? []).filter((r) => r.author === page.user.name);
  const lease = g.lease as { user?: string; until?: string } | null;
  if (rejected.length && !page.secondPass && !ui.banner.dataset.sticky) {
    const r = rejected[0];
    banner([el('strong', {}, `Rejected by ${r.reviewer ?? 'a reviewer'}: `),
      `your decision #${r.decision} (${r.class_name}, ${r.masks} mask${r.masks === 1 ? '' : 's'}) on this group`,
      r.comment ? el('q', { class: 'review-comment' }, r.comment) : ' (no comment)',
      rejected.length > 1 ? ` and ${rejected.length - 1} more rejection${rejected.length > 2 ? 's' : ''}` : '',
      '. Its masks are open again: label them anew.'], 'warn');
    ui.banner.dataset.rejection = String(r.decision);
  } else if (page.secondPass) {
    banner([el('strong', {}, 'Second, independent labelling. '),
      'This group is one of those labelled twice: label its masks as you see them. Your classes are compared with the first labelling, not applied; the first labeller\'s classes are hidden.'], 'info');
  } else if (lease?.user && lease.user !== page.user.name) {
    banner([`${lease.user} holds this group until ${new Date(lease.until ?? '').toLocaleTimeString()}: `,
      'you can still label it (a save made on an older version is refused, never lost), or take ',
      el('button', { type: 'button', class: 'button small', onclick: () => { void nextGroup(); } }, 'the next group'), '.'], 'info');
  } else if (!ui.banner.dataset.sticky) {
    banner(null);
  }
  ui.lease.textContent = page.leaseUntil && lease?.user === page.user.name
    ? `leased to you until ${new Date(page.leaseUntil).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}` : '';
}

/** The classifier's confidence over the group's masks, or that no model has scored them yet. */
function confidence(g: Group): string {
  if (g.score_min == null || g.score_max == null) return 'not scored yet';
  const [low, high] = [g.score_min.toFixed(2), g.score_max.toFixed(2)];
  return low === high ? `confidence ${low}` : `confidence ${low}–${high}`;
}

/** The group's class mix (decided masks by their class, the others by the classifier's
 * probabilities), largest first, each with its colour: at most four, then how many more. */
function mixLine(g: Group): (Node | string)[] {
  const entries = Object.entries(g.histogram ?? {}).sort((a, b) => b[1] - a[1]);
  if (!entries.length) return [el('span', { class: 'mix' }, 'class mix unknown')];
  const shown = entries.slice(0, 4).map(([name, share]) => el('span', { class: 'mix-part' },
    el('span', { class: 'mix-swatch', style: `background:${classes().find((c) => c.name === name)?.color ?? '#888'}` }),
    ` ${name} ${share >= 10 ? share.toFixed(0) : share.toFixed(1)} %`));
  const more = entries.length > 4 ? [` +${entries.length - 4} more`] : [];
  return [el('span', { class: 'mix', 'aria-label': 'class mix' }, ...shown, ...more)];
}
