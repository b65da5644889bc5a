/** Buckets kept at most; beyond, full (idle) buckets are dropped. */
const MAX_BUCKETS = 10_000;

/**
 * A token bucket per key (the caller): `perMinute` requests in a burst, refilled continuously at
 * `perMinute` per minute. In-process: each gateway replica counts on its own, so with N replicas a
 * caller can get up to N times the limit; a shared limit (PostgreSQL or NATS KV) is a later step.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly perMinute: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes one token: 0 when allowed, otherwise the milliseconds until one is available. */
  take(key: string): number {
    if (this.perMinute <= 0) return 0;
    const now = this.now();
    const ratePerMs = this.perMinute / 60_000;
    const bucket = this.buckets.get(key) ?? { tokens: this.perMinute, at: now };
    bucket.tokens = Math.min(this.perMinute, bucket.tokens + (now - bucket.at) * ratePerMs);
    bucket.at = now;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      this.remember(key, bucket);
      return 0;
    }
    this.remember(key, bucket);
    return Math.ceil((1 - bucket.tokens) / ratePerMs);
  }

  private remember(key: string, bucket: { tokens: number; at: number }): void {
    this.buckets.set(key, bucket);
    if (this.buckets.size <= MAX_BUCKETS) return;
    const now = this.now();
    for (const [k, b] of this.buckets) {
      if (b.tokens + (now - b.at) * (this.perMinute / 60_000) >= this.perMinute) this.buckets.delete(k);
    }
  }
}
