/**
 * The followers of a {@link DurableLog} waiting for the next batch to become durable: woken all
 * at once, once per acknowledgement, with no timer; and their AbortSignals, watched with one
 * listener per signal however many followers share it (a shutdown signal given to 64 followers
 * would otherwise trip Node's "possible EventTarget memory leak" warning at the eleventh).
 * @module
 */

/** One follower's wait, while it waits: how to end it with an error. */
export interface Waiting {
  reject?: ((error: unknown) => void) | undefined;
}

/** The waiting followers of one log. */
export class Followers {
  #waiters = new Set<() => void>();
  readonly #signals = new Map<AbortSignal, { callbacks: Set<() => void>; listener: () => void }>();

  /** How many followers wait now. */
  get waiting(): number {
    return this.#waiters.size;
  }

  /** Resolves at the next {@link wakeAll}; `waiting.reject` ends it sooner (and stops waiting). */
  next(waiting: Waiting): Promise<void> {
    return new Promise((resolve, reject) => {
      const wake = (): void => {
        waiting.reject = undefined;
        resolve();
      };
      this.#waiters.add(wake);
      waiting.reject = (error: unknown): void => {
        this.#waiters.delete(wake);
        waiting.reject = undefined;
        reject(error);
      };
    });
  }

  /** Wakes every waiting follower once (they look at the log again). */
  wakeAll(): void {
    const waiters = this.#waiters;
    this.#waiters = new Set();
    for (const wake of waiters) wake();
  }

  /** Calls `callback` when `signal` fires, until the returned function is called. */
  watchAbort(signal: AbortSignal, callback: () => void): () => void {
    let watched = this.#signals.get(signal);
    if (watched === undefined) {
      const callbacks = new Set<() => void>();
      const listener = (): void => {
        for (const call of [...callbacks]) call();
      };
      watched = { callbacks, listener };
      this.#signals.set(signal, watched);
      signal.addEventListener('abort', listener, { once: true });
    }
    const { callbacks, listener } = watched;
    callbacks.add(callback);
    return () => {
      callbacks.delete(callback);
      if (callbacks.size > 0 || this.#signals.get(signal) !== watched) return;
      this.#signals.delete(signal);
      signal.removeEventListener('abort', listener);
    };
  }
}
