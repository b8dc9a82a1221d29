// The district search box: type part of a name (accents and case do not matter) or an id, pick
// one of the first eight matches with the mouse or the arrow keys and Enter.

import { byId, el } from '../shared/util';

export interface SearchHost {
  /** The districts of the city shown. */
  districts(): { id: string; name: string }[];
  selectDistrict(id: string): void;
}

/** Lower case without accents, so that "sao" finds "São". */
function fold(text: string): string {
  return text.normalize('NFKD').replace(/[\u0300-\u036f]/g, '').toLowerCase();
}

/** Wire the search toggle, the box (#district-search) and its list of matches (#district-results). */
export function bindDistrictSearch(host: SearchHost): void {
  const input = byId<HTMLInputElement>('district-search');
  const toggle = byId('search-toggle');
  toggle.addEventListener('click', () => {
    const open = !input.parentElement!.classList.contains('open');
    input.parentElement!.classList.toggle('open', open);
    toggle.setAttribute('aria-expanded', String(open));
    if (open) input.focus();
  });
  const list = byId<HTMLUListElement>('district-results');
  let active = -1;
  let matches: { id: string; name: string }[] = [];
  const close = () => {
    list.hidden = true;
    input.setAttribute('aria-expanded', 'false');
    input.removeAttribute('aria-activedescendant');
    active = -1;
  };
  const choose = (id: string) => {
    close();
    input.value = '';
    input.parentElement!.classList.remove('open');
    toggle.setAttribute('aria-expanded', 'false');
    host.selectDistrict(id);
  };
  const render = () => {
    const query = fold(input.value.trim());
    matches = query ? host.districts().filter((d) => fold(d.name).includes(query) || d.id.includes(query)).slice(0, 8) : [];
    list.replaceChildren(...(matches.length ? matches.map((d, i) => el('li', {
      id: `district-option-${i}`, role: 'option', 'aria-selected': String(i === active), 'data-district': d.id,
      onmousedown: (e: Event) => { e.preventDefault(); choose(d.id); },
    }, d.name)) : query ? [el('li', { class: 'empty', role: 'option', 'aria-disabled': 'true' }, 'No district matches')] : []));
    list.hidden = !query;
    input.setAttribute('aria-expanded', String(!!query));
    if (active >= 0) input.setAttribute('aria-activedescendant', `district-option-${active}`);
    else input.removeAttribute('aria-activedescendant');
  };
  input.addEventListener('input', () => { active = -1; render(); });
  input.addEventListener('blur', () => window.setTimeout(close, 100));
  input.addEventListener('keydown', (event) => {
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      if (!matches.length) return;
      active = (active + (event.key === 'ArrowDown' ? 1 : -1) + matches.length) % matches.length;
      render();
    } else if (event.key === 'Enter') {
      event.preventDefault();
      const pick = matches[Math.max(0, active)];
      if (pick) choose(pick.id);
    } else if (event.key === 'Escape') {
      close();
    }
  });
}
