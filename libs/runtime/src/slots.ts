/**
 * A counting semaphore: at most `size` holders at once; waiters are served in arrival order. A wait
 * ends early when its signal aborts (the wait rejects with the signal's reason and takes no slot).
 */
export class Slots {
  private used = 0;
  private readonly waiting: Array<{ grant: () => void }> = [];

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new Error(`Slots needs a positive size, got ${size}`);
  }

  /** Holders now. */
  get inUse(): number {
    return this.used;
  }

  /** Waiters now. */
  get queued(): number {
    return this.waiting.length;
  }

  /** Resolves with a release function once a slot is held (call it exactly once; later calls do nothing). */
  acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.used < this.size && this.waiting.length === 0) {
      this.used += 1;
      return Promise.resolve(this.releaser());
    }
    return new Promise((resolve, reject) => {
      const waiter = {
        grant: () => {
          signal?.removeEventListener('abort', onAbort);
          this.used += 1;
          resolve(this.releaser());
        },
      };
      const onAbort = () => {
        const index = this.waiting.indexOf(waiter);
        if (index >= 0) this.waiting.splice(index, 1);
        reject(signal!.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(waiter);
    });
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.used -= 1;
      const next = this.waiting.shift();
      next?.grant();
    };
  }
}
