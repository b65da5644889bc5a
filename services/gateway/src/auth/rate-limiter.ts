import { AppError, UnavailableError } from '@roadmap/contracts';
import { kvToken, type KvStore } from '@roadmap/messaging';

/** How long tokens taken from the shared bucket stay usable here; the unused ones go back with the next lease. */
export const LEASE_TTL_MS = 1_000;
/** Attempts at one compare-and-set of a bucket before the request is told to come back. */
const CAS_TRIES = 8;
/** Owners whose lease is remembered at most; beyond, the idle ones are forgotten (their leftover tokens with them). */
const MAX_LEASES = 10_000;

interface Lease {
  /** Whole tokens this replica took from the shared bucket and has not spent. */
  tokens: number;
  /** Until when they may be spent here. */
  expiresAt: number;
  /** The shared bucket had no token: refuse here until then without asking it again. */
  blockedUntil: number;
  /** The lease being taken now, awaited by every request of the owner that finds none. */
  refill?: Promise<void>;
}

/** What the shared bucket holds per owner: tokens and when they were counted (refill is computed, never written by a timer). */
interface Bucket {
  tokens: number;
  at: number;
}

/**
 * Tokens an owner's bucket hands a replica at once: a tenth of a second of refill (one KV round
 * trip per ~100 ms of an owner's traffic at full rate), never more than a fiftieth of the burst so
 * that replicas holding leases cannot hoard it, and at least one.
 */
export function leaseSize(perMinute: number): number {
  return Math.max(1, Math.min(Math.floor(perMinute / 600), Math.floor(perMinute / 50)));
}

/**
 * The task-creation rate limit (AUTH_RATE_LIMIT_PER_MINUTE): one token bucket per owner, shared by
 * every gateway replica through a JetStream KV bucket (`API_RATE`, compare-and-set like the LLM
 * layer's limits): `perMinute` requests in a burst, refilled continuously at `perMinute` per minute.
 *
 * Asking the bucket for every request would put a KV round trip on the hot admission path, so a
 * replica takes a small lease of tokens at once ({@link leaseSize}) and spends it locally; a lease
 * it has not spent within {@link LEASE_TTL_MS} goes back to the bucket with its next take, so the
 * total across replicas is the limit, not N times it. When the bucket is empty the replica knows
 * when the next token is due and refuses (429, Retry-After) until then without asking again.
 */
export class RateLimiter {
  private readonly leases = new Map<string, Lease>();
  private readonly lease: number;
  private readonly ratePerMs: number;

  constructor(
    private readonly store: () => Promise<KvStore>,
    private readonly perMinute: number,
    private readonly now: () => number = Date.now,
  ) {
    this.lease = leaseSize(perMinute);
    this.ratePerMs = perMinute / 60_000;
  }

  /** Takes one token: 0 when allowed, otherwise the milliseconds until one is available. */
  async take(owner: string): Promise<number> {
    if (this.perMinute <= 0) return 0;
    const lease = this.leaseOf(owner);
    for (;;) {
      const now = this.now();
      if (lease.tokens >= 1 && lease.expiresAt > now) {
        lease.tokens -= 1;
        return 0;
      }
      if (lease.blockedUntil > now) return lease.blockedUntil - now;
      lease.refill ??= this.refill(owner, lease)
        .catch((error: unknown) => {
          throw error instanceof AppError ? error : new UnavailableError('The shared rate limit (NATS KV bucket API_RATE) cannot be reached', 5_000, error);
        })
        .finally(() => (lease.refill = undefined));
      await lease.refill;
    }
  }

  /** One compare-and-set on the owner's bucket: gives back what the expired lease left, takes a new one. */
  private async refill(owner: string, lease: Lease): Promise<void> {
    const store = await this.store();
    const key = `api.${kvToken(owner)}`;
    for (let i = 0; i < CAS_TRIES; i++) {
      const now = this.now();
      const current = await store.get(key);
      const stored = current ? parse(current.value) : { tokens: this.perMinute, at: now };
      const refilled = stored.tokens + Math.max(0, now - stored.at) * this.ratePerMs;
      const available = Math.min(this.perMinute, refilled + Math.floor(lease.tokens));
      const granted = Math.min(this.lease, Math.floor(available));
      const next = JSON.stringify({ tokens: available - granted, at: now } satisfies Bucket);
      const written = current ? await store.update(key, next, current.revision) : await store.create(key, next);
      if (written === undefined) continue; // another replica took from the bucket in between: read again
      lease.tokens = granted;
      // From after the write: a slow round trip must not hand out a lease that is already over.
      lease.expiresAt = this.now() + LEASE_TTL_MS;
      lease.blockedUntil = granted > 0 ? 0 : now + Math.max(1, Math.ceil((1 - available) / this.ratePerMs));
      return;
    }
    // Contended beyond a few tries: the owner is sending far more than the limit from every replica.
    lease.blockedUntil = this.now() + Math.ceil(1 / this.ratePerMs);
  }

  private leaseOf(owner: string): Lease {
    let lease = this.leases.get(owner);
    if (!lease) {
      if (this.leases.size >= MAX_LEASES) this.forgetIdle();
      lease = { tokens: 0, expiresAt: 0, blockedUntil: 0 };
      this.leases.set(owner, lease);
    }
    return lease;
  }

  private forgetIdle(): void {
    const now = this.now();
    for (const [owner, lease] of this.leases) {
      if (!lease.refill && lease.expiresAt <= now && lease.blockedUntil <= now) this.leases.delete(owner);
    }
  }
}

function parse(value: string): Bucket {
  const parsed = JSON.parse(value) as Partial<Bucket>;
  return { tokens: Number(parsed.tokens) || 0, at: Number(parsed.at) || 0 };
}
