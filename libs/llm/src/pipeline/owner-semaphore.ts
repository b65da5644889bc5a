import { randomUUID } from 'node:crypto';
import { AppError, RetryableError } from '@roadmap/contracts';
import type { Logger } from '@roadmap/observability';
import { kvToken, type KvStore } from '@roadmap/messaging';
import { ownerWait } from './metrics.js';
import { delay, jitter } from './wait.js';

export interface OwnerSemaphoreOptions {
  /** Calls in flight per owner across all processes; 0 turns the limit off. */
  readonly limit: number;
  /** A lease not renewed for this long is free again (its process died). Renewed every third of it. */
  readonly leaseMs: number;
  /** Longest a call waits for a slot before failing with LLM_RATE_LIMITED. */
  readonly maxWaitMs: number;
  readonly logger?: Logger;
}

/** Leases of one owner: lease id -> expiry (epoch ms). */
type Leases = Record<string, number>;

const CAS_TRIES = 8;
/** Polling while all slots are taken: starts fast, backs off to this. */
const POLL_MAX_MS = 250;

/**
 * A counting semaphore per owner held in a key-value store (`owner.<owner>`: a map of lease id to
 * expiry), so one owner's calls in flight are limited across every replica: one user's 50 roadmaps
 * cannot take every slot of the content workers' LLM budget. Leases expire unless renewed, so a
 * process that dies frees its slots after `leaseMs`; expired leases are pruned by whoever writes next.
 */
export class OwnerSemaphore {
  constructor(
    private readonly store: () => Promise<KvStore>,
    private readonly options: OwnerSemaphoreOptions,
  ) {}

  get enabled(): boolean {
    return this.options.limit > 0;
  }

  /** Takes a slot of `owner`, waiting for one (cancellable); resolves to the function that gives it back. */
  async acquire(owner: string, signal?: AbortSignal): Promise<() => Promise<void>> {
    if (!this.enabled) return async () => undefined;
    const key = `owner.${kvToken(owner)}`;
    const id = randomUUID();
    const started = Date.now();
    const deadline = started + this.options.maxWaitMs;
    const store = await this.store();
    let pollMs = 20;
    try {
      for (;;) {
        if (signal?.aborted) throw signal.reason;
        const taken = await this.tryTake(store, key, id);
        if (taken) break;
        if (Date.now() + pollMs > deadline) {
          ownerWait.observe({ outcome: 'timeout' }, (Date.now() - started) / 1000);
          throw new RetryableError(
            'LLM_RATE_LIMITED',
            `Owner "${owner}" already has ${this.options.limit} LLM calls in flight; no slot freed within ${this.options.maxWaitMs} ms`,
            { status: 429, retryAfterMs: 5_000 },
          );
        }
        await delay(jitter(pollMs, 0.5), signal);
        pollMs = Math.min(POLL_MAX_MS, pollMs * 2);
      }
    } catch (error) {
      if (signal?.aborted && !(error instanceof AppError)) ownerWait.observe({ outcome: 'cancelled' }, (Date.now() - started) / 1000);
      throw error;
    }
    ownerWait.observe({ outcome: 'admitted' }, (Date.now() - started) / 1000);

    const renewal = setInterval(() => {
      this.write(store, key, (leases) => (id in leases ? { ...leases, [id]: Date.now() + this.options.leaseMs } : undefined)).catch((error: unknown) =>
        this.options.logger?.warn({ err: error, owner }, 'could not renew an LLM owner-concurrency lease'),
      );
    }, Math.max(100, Math.floor(this.options.leaseMs / 3)));
    renewal.unref();
    let released = false;
    return async () => {
      if (released) return;
      released = true;
      clearInterval(renewal);
      await this.write(store, key, (leases) => {
        if (!(id in leases)) return undefined;
        const { [id]: _gone, ...rest } = leases;
        return rest;
      }).catch((error: unknown) => this.options.logger?.warn({ err: error, owner }, 'could not release an LLM owner-concurrency lease; it expires on its own'));
    };
  }

  /** Adds lease `id` when fewer than `limit` unexpired leases exist. */
  private async tryTake(store: KvStore, key: string, id: string): Promise<boolean> {
    const result = await this.write(store, key, (leases) =>
      Object.keys(leases).length >= this.options.limit ? undefined : { ...leases, [id]: Date.now() + this.options.leaseMs },
    );
    return result === 'written';
  }

  /**
   * Read-modify-write of an owner's leases with compare-and-set, expired leases pruned first.
   * `change` returns the new leases, or undefined to write nothing. Persistent contention gives
   * 'conflict' (the caller tries again later; a lease left behind expires).
   */
  private async write(store: KvStore, key: string, change: (leases: Leases) => Leases | undefined): Promise<'written' | 'unchanged' | 'conflict'> {
    for (let i = 0; i < CAS_TRIES; i++) {
      const current = await store.get(key);
      const now = Date.now();
      const leases: Leases = {};
      for (const [lease, expires] of Object.entries(current ? (JSON.parse(current.value) as Leases) : {})) {
        if (expires > now) leases[lease] = expires;
      }
      const next = change(leases);
      if (next === undefined) return 'unchanged';
      const value = JSON.stringify(next);
      const written = current ? await store.update(key, value, current.revision) : await store.create(key, value);
      if (written !== undefined) return 'written';
      await delay(Math.random() * 10);
    }
    return 'conflict';
  }
}
