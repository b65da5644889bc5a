/** Options of {@link retryDelayMs}. */
export interface RetryDelayOptions {
  /** Delay ceiling of the first retry. */
  readonly baseMs?: number;
  /** The exponential part never exceeds this. */
  readonly capMs?: number;
  /** Server-advised wait (rate limit, Retry-After): the retry never comes sooner. */
  readonly retryAfterMs?: number;
  /** Source of randomness in [0, 1); injectable for tests. */
  readonly random?: () => number;
}

export const RETRY_BASE_MS = 1_000;
export const RETRY_CAP_MS = 60_000;
/** An advised wait longer than this is treated as this: a bogus value must not park a message for days. */
export const RETRY_AFTER_MAX_MS = 15 * 60_000;

/**
 * Delay before redelivering a message that failed on delivery `deliveryCount` (1 = first delivery):
 * exponential backoff with full jitter, uniform in [0, min(cap, base * 2^(deliveryCount-1))), so
 * replicas retrying after a shared outage spread out instead of stampeding. When the error carries
 * `retryAfterMs`, the delay is at least that (bounded by {@link RETRY_AFTER_MAX_MS}).
 */
export function retryDelayMs(deliveryCount: number, opts: RetryDelayOptions = {}): number {
  const base = opts.baseMs ?? RETRY_BASE_MS;
  const cap = opts.capMs ?? RETRY_CAP_MS;
  const random = opts.random ?? Math.random;
  const attempt = Math.max(1, Math.floor(deliveryCount));
  // 2^(attempt-1) overflows to Infinity for huge counts; min() keeps that at the cap.
  const ceiling = Math.min(cap, base * 2 ** (attempt - 1));
  const jittered = Math.floor(random() * ceiling);
  if (opts.retryAfterMs === undefined || !(opts.retryAfterMs > 0)) return jittered;
  return Math.max(jittered, Math.min(Math.ceil(opts.retryAfterMs), RETRY_AFTER_MAX_MS));
}
