/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts (timer cleared). */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, Math.max(0, ms));
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** `ms` plus up to `fraction` of it at random, so waiters woken together do not collide again. */
export function jitter(ms: number, fraction = 0.1): number {
  return ms + Math.random() * ms * fraction;
}
