// The compare-mode controls: the swipe / side by side / overlay radio group, the overlay's
// opacity slider and A/B flip, and the names of the two sides in the current mode.

import type { MapPair } from './maps';
import type { Mode } from './state';
import { byId, narrowQuery } from '../shared/util';

export interface ModeHost {
  /** A mode button was picked (click, or arrow keys in the radio group). */
  pickMode(mode: Mode): void;
  /** The slider or the flip changed the overlay's opacity. */
  opacityChanged(): void;
}

export class ModeControls {
  constructor(private pair: MapPair, host: ModeHost) {
    const modes = [...document.querySelectorAll<HTMLButtonElement>('#modes [data-mode]')];
    modes.forEach((button, i) => {
      button.addEventListener('click', () => host.pickMode(button.dataset.mode as Mode));
      button.addEventListener('keydown', (event) => { // radio group: arrows move and select
        const step = event.key === 'ArrowRight' || event.key === 'ArrowDown' ? 1 : event.key === 'ArrowLeft' || event.key === 'ArrowUp' ? -1 : 0;
        if (!step) return;
        event.preventDefault();
        const next = modes[(i + step + modes.length) % modes.length];
        host.pickMode(next.dataset.mode as Mode);
        next.focus();
      });
    });

    const opacity = byId<HTMLInputElement>('opacity');
    opacity.addEventListener('input', () => {
      this.pair.setOpacity(Number(opacity.value) / 100);
      this.syncOverlay();
      host.opacityChanged();
    });
    byId('flip').addEventListener('click', () => {
      this.pair.setOpacity(this.pair.opacity >= 0.5 ? 0 : 1);
      this.syncOverlay();
      host.opacityChanged();
    });
  }

  /** Show `mode` as the one picked (the maps are already in it). */
  show(mode: Mode): void {
    document.querySelectorAll<HTMLButtonElement>('#modes [data-mode]').forEach((button) => {
      const on = button.dataset.mode === mode;
      button.setAttribute('aria-checked', String(on));
      button.tabIndex = on ? 0 : -1;
    });
    byId('overlay-controls').hidden = mode !== 'overlay';
    this.syncOverlay();
    this.renderSideNames();
    document.body.dataset.mode = mode;
  }

  /** Where A and B are: left and right, top and bottom (side by side on phones), below and on top. */
  renderSideNames(): void {
    const narrow = narrowQuery.matches;
    const names: Record<Mode, [string, string]> = {
      swipe: ['Left', 'Right'], side: narrow ? ['Top', 'Bottom'] : ['Left', 'Right'], overlay: ['Below', 'On top'],
    };
    const [a, b] = names[this.pair.mode];
    byId('side-a').textContent = a;
    byId('side-b').textContent = b;
  }

  /** The slider, its value and the flip button's text follow the pair's opacity. */
  syncOverlay(): void {
    const value = Math.round(this.pair.opacity * 100);
    byId<HTMLInputElement>('opacity').value = String(value);
    byId('opacity-value').textContent = `${value} %`;
    byId('flip').textContent = this.pair.opacity >= 0.5 ? 'Show A' : 'Show B';
  }
}
