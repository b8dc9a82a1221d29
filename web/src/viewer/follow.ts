// Following rebuilt maps without a page reload.
//
// Tile URLs name the layer version (`?v=`) and the server serves them immutable, so a rebuilt
// map has new URLs and no cache shows yesterday's tiles; an old version's URL is 410 Gone. While
// the tab is visible the viewer asks the catalog for the open city every POLL_MS (with
// If-None-Match: an unchanged catalog is a bodiless 304) and hands a changed city to the app,
// which points the sources of the layers whose version changed at their new URLs.

import { endpoints, type City } from './endpoints';

/** How often the catalog is asked while the tab is visible. */
export const POLL_MS = 5000;

export interface FollowOptions {
  city: () => string | null; // the city on screen
  changed: (city: City) => void; // the catalog's record of it differs from the last one seen
}

export class VersionFollower {
  private etag: string | null = null;
  private etagCity: string | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private running: Promise<void> | null = null;

  constructor(private readonly options: FollowOptions) {}

  start(): void {
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible') void this.poll();
      else this.stop();
    });
    this.schedule();
  }

  private stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(): void {
    this.stop();
    if (document.visibilityState === 'visible') this.timer = setTimeout(() => void this.poll(), POLL_MS);
  }

  /** Ask now (also when a tile came back 410 Gone); one request at a time. */
  poll(): Promise<void> {
    if (!this.running) {
      this.running = this.check().finally(() => {
        this.running = null;
        this.schedule();
      });
    }
    return this.running;
  }

  private async check(): Promise<void> {
    const id = this.options.city();
    if (!id) return;
    if (id !== this.etagCity) this.etag = null;
    try {
      const found = await endpoints.city(id, this.etag);
      if (!found || found.city.id !== this.options.city()) return; // unchanged, or another city now
      this.etag = found.etag;
      this.etagCity = id;
      this.options.changed(found.city);
    } catch {
      /* the server is away for a moment: ask again at the next beat */
    }
  }
}
