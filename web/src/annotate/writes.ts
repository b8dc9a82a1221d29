// Writes run one after another: a key pressed while a save is in flight (a class, `r`, `u`) is
// queued and applied to the state that save leaves, never dropped; the status line says so.

let chain: Promise<void> = Promise.resolve();
let pending = 0;

/** Run `write` after the writes before it; `say` tells the user it waits, when it does. */
export function queueWrite(what: string, write: () => Promise<void>, say: (text: string) => void): void {
  if (pending > 0) say(`${what}: queued, it runs after the save in progress.`);
  pending += 1;
  document.body.dataset.queuedWrites = String(pending);
  chain = chain.then(write).catch(() => undefined).finally(() => {
    pending -= 1;
    document.body.dataset.queuedWrites = String(pending);
  });
}

/** Writes queued or running. */
export function writesPending(): number {
  return pending;
}
