import { AppError, RetryableError } from '@roadmap/contracts';
import { kvToken, type KvStore } from '@roadmap/messaging';
import { rateLimitWait } from './metrics.js';
import { delay, jitter } from './wait.js';

/** The limits of one provider + model; 0 means unlimited. */
export interface RateScope {
  readonly provider: string;
  readonly model: string;
  /** Requests per window. */
  readonly rpm: number;
  /** Tokens (in + out) per window. */
  readonly tpm: number;
}

export interface RateLimiterOptions {
  /** Window length: 60 000 for per-minute limits (tests use a shorter one). */
  readonly windowMs: number;
  /** Longest a call waits for budget before failing with LLM_RATE_LIMITED. */
  readonly maxWaitMs: number;
  readonly now?: () => number;
}

/** What a call took from a window, so it can be corrected with the tokens actually used. */
export interface Reservation {
  readonly key: string | undefined;
  readonly tokens: number;
}

interface WindowCount {
  r: number;
  t: number;
}

/** Attempts at one compare-and-set before the caller re-reads everything. */
const CAS_TRIES = 8;

/**
 * Requests- and tokens-per-minute limits shared by every process through a key-value store with
 * compare-and-set (JetStream KV). The algorithm is the sliding-window counter: one counter per
 * provider, model and window (`rate.<provider>.<model>.w<n>`); a call is admitted when
 * `previous × (1 − elapsed fraction) + current + cost ≤ limit`, and its reservation is a CAS write
 * of the current window's counter, so concurrent callers in any replica cannot both take the last
 * unit. The current window's count alone never exceeds the limit, and the weighted previous window
 * smooths the burst a plain fixed window allows at its boundary. Tokens are reserved by estimate
 * (the prompt's size) and corrected after the call with the usage reported ({@link reconcile}).
 *
 * A provider's 429 with Retry-After is honoured by everyone: {@link hold} writes a
 * `rate.<provider>.<model>.hold` key that every caller waits out before taking budget.
 */
export class RateLimiter {
  private readonly now: () => number;

  constructor(
    private readonly store: () => Promise<KvStore>,
    private readonly options: RateLimiterOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  /**
   * Takes one request and `tokens` from the scope's budget, waiting for it when the window is
   * spent (at most maxWaitMs; the signal cancels the wait). Unlimited scopes return at once.
   */
  async acquire(scope: RateScope, tokens: number, signal?: AbortSignal): Promise<Reservation> {
    if (scope.rpm <= 0 && scope.tpm <= 0) return { key: undefined, tokens: 0 };
    const labels = { provider: scope.provider, model: scope.model };
    const started = this.now();
    const deadline = started + this.options.maxWaitMs;
    const cost = scope.tpm > 0 ? Math.min(tokens, scope.tpm) : tokens;
    const store = await this.store();
    try {
      for (;;) {
        if (signal?.aborted) throw signal.reason;
        const now = this.now();
        let waitMs = await this.holdRemaining(store, scope, now);
        if (waitMs <= 0) {
          const attempt = await this.tryTake(store, scope, cost, now);
          if (attempt.reservation) {
            rateLimitWait.observe({ ...labels, outcome: 'admitted' }, (this.now() - started) / 1000);
            return attempt.reservation;
          }
          waitMs = attempt.waitMs;
        }
        if (now + waitMs > deadline) {
          rateLimitWait.observe({ ...labels, outcome: 'timeout' }, (this.now() - started) / 1000);
          throw new RetryableError(
            'LLM_RATE_LIMITED',
            `No LLM budget for ${scope.provider}/${scope.model} within ${this.options.maxWaitMs} ms (limits: ${scope.rpm || '∞'} requests, ${scope.tpm || '∞'} tokens per ${this.options.windowMs} ms)`,
            { status: 429, retryAfterMs: Math.max(waitMs, 1_000) },
          );
        }
        await delay(jitter(waitMs, 0.2), signal);
      }
    } catch (error) {
      if (signal?.aborted && !(error instanceof AppError)) {
        rateLimitWait.observe({ ...labels, outcome: 'cancelled' }, (this.now() - started) / 1000);
      }
      throw error;
    }
  }

  /**
   * Corrects a reservation: `requests` and `tokens` are added to the window it was taken from (negative
   * to give back). Best effort: a window that has expired, or persistent contention, leaves it as is.
   */
  async reconcile(reservation: Reservation, change: { requests?: number; tokens?: number }): Promise<void> {
    const requests = change.requests ?? 0;
    const tokens = change.tokens ?? 0;
    if (!reservation.key || (requests === 0 && tokens === 0)) return;
    const store = await this.store();
    for (let i = 0; i < CAS_TRIES; i++) {
      const current = await store.get(reservation.key);
      if (!current) return;
      const count = parse(current.value);
      const next = { r: Math.max(0, count.r + requests), t: Math.max(0, count.t + tokens) };
      if ((await store.update(reservation.key, JSON.stringify(next), current.revision)) !== undefined) return;
    }
  }

  /**
   * Makes every caller of the scope wait until `untilMs` (a provider's Retry-After). Keeps the later of
   * two holds. Only for limited scopes: an unlimited one never reads the store.
   */
  async hold(scope: RateScope, untilMs: number): Promise<void> {
    if (scope.rpm <= 0 && scope.tpm <= 0) return;
    const store = await this.store();
    const key = `${prefix(scope)}.hold`;
    for (let i = 0; i < CAS_TRIES; i++) {
      const current = await store.get(key);
      const until = current ? Number(JSON.parse(current.value).until) : 0;
      if (until >= untilMs) return;
      const value = JSON.stringify({ until: untilMs });
      const written = current ? await store.update(key, value, current.revision) : await store.create(key, value);
      if (written !== undefined) return;
    }
  }

  private async holdRemaining(store: KvStore, scope: RateScope, now: number): Promise<number> {
    const current = await store.get(`${prefix(scope)}.hold`);
    if (!current) return 0;
    return Math.max(0, Number(JSON.parse(current.value).until) - now);
  }

  /** One try at the current window: a reservation, or how long to wait before the next try. */
  private async tryTake(store: KvStore, scope: RateScope, cost: number, now: number): Promise<{ reservation?: Reservation; waitMs: number }> {
    const { windowMs } = this.options;
    const index = Math.floor(now / windowMs);
    const windowStart = index * windowMs;
    const elapsed = (now - windowStart) / windowMs;
    const key = `${prefix(scope)}.w${index}`;
    const [previousEntry, currentEntry] = await Promise.all([store.get(`${prefix(scope)}.w${index - 1}`), store.get(key)]);
    const previous = previousEntry ? parse(previousEntry.value) : { r: 0, t: 0 };
    const current = currentEntry ? parse(currentEntry.value) : { r: 0, t: 0 };
    const weight = 1 - elapsed;

    const waits = [
      waitFor(scope.rpm, previous.r, current.r, 1, elapsed, windowMs),
      // A call is never refused for tokens in an otherwise empty window (a prompt bigger than the limit must pass once).
      current.t === 0 && previous.t * weight < 1 ? 0 : waitFor(scope.tpm, previous.t, current.t, cost, elapsed, windowMs),
    ];
    const waitMs = Math.max(...waits);
    if (waitMs > 0) return { waitMs: Math.max(waitMs, 5) };

    const next = JSON.stringify({ r: current.r + 1, t: current.t + cost });
    const written = currentEntry ? await store.update(key, next, currentEntry.revision) : await store.create(key, next);
    // A conflict: someone else took budget in between; read again at once (with a hair of jitter).
    return written === undefined ? { waitMs: Math.random() * 5 } : { reservation: { key, tokens: cost }, waitMs: 0 };
  }
}

/**
 * Milliseconds until `cost` more fits under `limit` in the sliding window: 0 when it fits now; the
 * start of the next window when the current one alone is full; otherwise the moment the previous
 * window's weight has decayed enough.
 */
export function waitFor(limit: number, previous: number, current: number, cost: number, elapsed: number, windowMs: number): number {
  if (limit <= 0) return 0;
  if (previous * (1 - elapsed) + current + cost <= limit) return 0;
  const untilNextWindow = (1 - elapsed) * windowMs;
  if (current + cost > limit || previous <= 0) return Math.ceil(untilNextWindow);
  // previous × (1 − f) ≤ limit − current − cost  ⇔  f ≥ 1 − (limit − current − cost) / previous
  const fraction = 1 - (limit - current - cost) / previous;
  return Math.ceil(Math.max(0, (fraction - elapsed) * windowMs));
}

function prefix(scope: Pick<RateScope, 'provider' | 'model'>): string {
  return `rate.${kvToken(scope.provider)}.${kvToken(scope.model)}`;
}

function parse(value: string): WindowCount {
  const parsed = JSON.parse(value) as Partial<WindowCount>;
  return { r: Number(parsed.r) || 0, t: Number(parsed.t) || 0 };
}
