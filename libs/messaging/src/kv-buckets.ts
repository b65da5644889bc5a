import { CONTROL_BUCKET } from './control.js';

/**
 * The JetStream key-value buckets of the platform, provisioned with the streams (by `npm run
 * provision`, which `npm start` and the chart's migration Job run) at NATS_STREAM_REPLICAS replicas.
 * Services only look them up: they need no stream-create rights, and a clustered NATS keeps every
 * bucket replicated like the streams. Namespaced like streams: `LLM_RATE` is bucket
 * `T1ABC_LLM_RATE` (stream `KV_T1ABC_LLM_RATE`) in namespace `t1abc`.
 */
export interface KvBucketDeclaration {
  /** Logical name (before the namespace prefix). */
  readonly name: string;
  readonly description: string;
  /** Values older than this are removed by the server. */
  readonly maxAgeMs: number;
  /** Largest value accepted; absent: no limit of its own. */
  readonly maxValueBytes?: number;
}

/** The settings of the LLM layer that size its buckets (the same variables the workers read). */
export interface KvBucketSettings {
  /** LLM_RATE_WINDOW_MS: the rate limiter's window. */
  readonly rateWindowMs?: number;
  /** LLM_CACHE_TTL_SECONDS: how long a cached output is reused (0: cache off). */
  readonly cacheTtlSeconds?: number;
}

/** Logical names of the LLM layer's buckets. */
export const LLM_BUCKET_NAMES = {
  /** Request/token counters per provider, model and window, and Retry-After holds. */
  rate: 'LLM_RATE',
  /** Per-owner concurrency leases. */
  owners: 'LLM_OWNERS',
  /** Validated outputs by request hash. */
  cache: 'LLM_CACHE',
} as const;

/** The gateway's API rate limit (AUTH_RATE_LIMIT_PER_MINUTE): one token bucket per owner, shared by every gateway replica. */
export const API_RATE_BUCKET = 'API_RATE';
/**
 * A bucket idle for a minute is full again, and a missing key reads as full: five minutes keeps
 * every key that still matters (and clock skew between replicas) with room to spare.
 */
export const API_RATE_BUCKET_AGE_MS = 5 * 60_000;

/** Rate counters outlive a few windows, and at least five minutes (holds, clock skew between replicas). */
export const RATE_BUCKET_MIN_AGE_MS = 5 * 60_000;
/** Owner leases are renewed while a call runs; an abandoned one disappears after an hour at the latest. */
export const OWNERS_BUCKET_AGE_MS = 60 * 60_000;
/** Largest cached output: bigger ones are not cached. */
export const CACHE_MAX_VALUE_BYTES = 512 * 1024;
/** Defaults of LLM_RATE_WINDOW_MS and LLM_CACHE_TTL_SECONDS (libs/llm's config). */
export const DEFAULT_RATE_WINDOW_MS = 60_000;
export const DEFAULT_CACHE_TTL_SECONDS = 86_400;

/** Max age of the rate bucket for a rate window. */
export function rateBucketAgeMs(windowMs: number): number {
  return Math.max(RATE_BUCKET_MIN_AGE_MS, 3 * windowMs);
}

/** Max age of the cache bucket: the cache TTL (a day while the cache is off, so the bucket exists either way). */
export function cacheBucketAgeMs(ttlSeconds: number): number {
  return (ttlSeconds > 0 ? ttlSeconds : DEFAULT_CACHE_TTL_SECONDS) * 1000;
}

/** Every bucket the platform uses, sized by the LLM settings. */
export function kvBuckets(settings: KvBucketSettings = {}): KvBucketDeclaration[] {
  return [
    {
      name: LLM_BUCKET_NAMES.rate,
      description: 'LLM request and token counters per provider, model and window; Retry-After holds',
      maxAgeMs: rateBucketAgeMs(settings.rateWindowMs ?? DEFAULT_RATE_WINDOW_MS),
    },
    { name: LLM_BUCKET_NAMES.owners, description: 'LLM concurrency leases per owner', maxAgeMs: OWNERS_BUCKET_AGE_MS },
    {
      name: LLM_BUCKET_NAMES.cache,
      description: 'validated LLM outputs by request hash',
      maxAgeMs: cacheBucketAgeMs(settings.cacheTtlSeconds ?? DEFAULT_CACHE_TTL_SECONDS),
      maxValueBytes: CACHE_MAX_VALUE_BYTES,
    },
    { name: API_RATE_BUCKET, description: 'API task-creation token buckets per owner (AUTH_RATE_LIMIT_PER_MINUTE), shared by the gateway replicas', maxAgeMs: API_RATE_BUCKET_AGE_MS },
    // Operators' controls (pause, concurrency, drain; control.ts): kept until changed back, no age.
    { name: CONTROL_BUCKET, description: 'operator controls: paused consumers, runtime concurrency, drains', maxAgeMs: 0 },
  ];
}

/** The stream behind a (namespaced) bucket. */
export function kvStreamName(bucket: string): string {
  return `KV_${bucket}`;
}
