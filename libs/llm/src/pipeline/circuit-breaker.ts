import type { Logger } from '@roadmap/observability';
import { breakerState } from './metrics.js';

export type BreakerState = 'closed' | 'open' | 'half_open';

export interface CircuitBreakerOptions {
  /** Retryable failures within `windowMs` that open the circuit; 0 disables the breaker. */
  readonly failures: number;
  readonly windowMs: number;
  /** How long an open circuit refuses calls before one probe is let through (half-open). */
  readonly cooldownMs: number;
  readonly now?: () => number;
}

const STATE_VALUE: Record<BreakerState, number> = { closed: 0, half_open: 1, open: 2 };

/**
 * A per-process circuit breaker for one provider/model: `failures` retryable failures (429, 5xx,
 * timeouts, unreachable) within `windowMs` open it; while open the pipeline's calls go to the next
 * configured provider; after `cooldownMs` one probe call is let through (half-open) and its outcome
 * closes or re-opens the circuit. State is per process on purpose: every replica finds out on its
 * own within a few calls, and no shared state has to be kept consistent during an outage.
 */
export class CircuitBreaker {
  private current: BreakerState = 'closed';
  private failuresAt: number[] = [];
  private openedAt = 0;
  private probing = false;
  private readonly now: () => number;

  constructor(
    readonly provider: string,
    readonly model: string,
    private readonly options: CircuitBreakerOptions,
    private readonly logger?: Logger,
  ) {
    this.now = options.now ?? Date.now;
    breakerState.set({ provider, model }, 0);
  }

  get state(): BreakerState {
    if (this.current === 'open' && this.now() - this.openedAt >= this.options.cooldownMs) return 'half_open';
    return this.current;
  }

  /** Whether a call may go to this provider now; in half-open state only one probe at a time. */
  tryPass(): boolean {
    if (this.options.failures <= 0) return true;
    const state = this.state;
    if (state === 'closed') return true;
    if (state === 'half_open' && !this.probing) {
      if (this.current !== 'half_open') this.transition('half_open');
      this.probing = true;
      return true;
    }
    return false;
  }

  /** Milliseconds until an open circuit lets a probe through. */
  retryInMs(): number {
    return this.current === 'open' ? Math.max(0, this.openedAt + this.options.cooldownMs - this.now()) : 0;
  }

  /** The provider answered (even with a permanent error: it is up). */
  success(): void {
    this.probing = false;
    this.failuresAt = [];
    if (this.current !== 'closed') this.transition('closed');
  }

  /** A retryable failure: counts towards opening; a failed probe re-opens at once. */
  failure(): void {
    if (this.options.failures <= 0) return;
    const now = this.now();
    if (this.current === 'half_open' || this.probing) {
      this.probing = false;
      this.open(now);
      return;
    }
    this.failuresAt = this.failuresAt.filter((at) => now - at < this.options.windowMs);
    this.failuresAt.push(now);
    if (this.current === 'closed' && this.failuresAt.length >= this.options.failures) this.open(now);
  }

  /** A call that ended without telling anything (cancelled): frees the probe slot. */
  release(): void {
    this.probing = false;
  }

  private open(now: number): void {
    this.openedAt = now;
    this.failuresAt = [];
    this.transition('open');
  }

  private transition(to: BreakerState): void {
    const from = this.current;
    this.current = to;
    breakerState.set({ provider: this.provider, model: this.model }, STATE_VALUE[to]);
    const log = { provider: this.provider, model: this.model, from, to, cooldownMs: this.options.cooldownMs };
    if (to === 'open') this.logger?.warn(log, 'LLM circuit breaker opened: calls go to the next provider until a probe succeeds');
    else this.logger?.info(log, `LLM circuit breaker ${to === 'closed' ? 'closed' : 'half-open: probing'}`);
  }
}
