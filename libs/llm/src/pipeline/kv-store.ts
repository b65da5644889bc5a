import { createHash } from 'node:crypto';
import { JetStreamApiCodes, JetStreamApiError, jetstreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/nats-core';
import { Namespace } from '@roadmap/messaging';

/** A value and the revision it was written at (for compare-and-set). */
export interface KvValue {
  readonly value: string;
  readonly revision: number;
}

/**
 * The few key-value operations the shared limits and the cache need, with compare-and-set on the
 * revision. One implementation is JetStream KV (shared by every replica); the other is in memory
 * (one process: unit tests, and a provider built without a NATS connection).
 */
export interface KvStore {
  get(key: string): Promise<KvValue | undefined>;
  /** Writes only when the key does not exist; undefined when it does (someone else won). */
  create(key: string, value: string): Promise<number | undefined>;
  /** Writes only when the key is still at `revision`; undefined on a conflict. */
  update(key: string, value: string, revision: number): Promise<number | undefined>;
  put(key: string, value: string): Promise<number>;
  delete(key: string): Promise<void>;
}

/** The buckets of the LLM layer, logical names (namespaced like streams: `T1ABC_LLM_RATE`). */
export const LLM_BUCKETS = {
  /** Request/token counters per provider, model and window, and Retry-After holds. */
  rate: 'LLM_RATE',
  /** Per-owner concurrency leases. */
  owners: 'LLM_OWNERS',
  /** Validated outputs by request hash. */
  cache: 'LLM_CACHE',
} as const;

/** KV keys allow `[-/_=.a-zA-Z0-9]`; other characters (a model called `llama3:8b`) become `_` plus a short hash. */
export function kvToken(text: string): string {
  if (/^[A-Za-z0-9_-]{1,64}$/.test(text)) return text;
  const safe = text.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 48);
  return `${safe}-${createHash('sha256').update(text).digest('hex').slice(0, 10)}`;
}

/** In-process store with the same compare-and-set semantics, and an optional max age per value. */
export class MemoryKvStore implements KvStore {
  private readonly entries = new Map<string, { value: string; revision: number; at: number }>();
  private revision = 0;

  constructor(private readonly maxAgeMs = 0) {}

  async get(key: string): Promise<KvValue | undefined> {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (this.maxAgeMs > 0 && Date.now() - entry.at > this.maxAgeMs) {
      this.entries.delete(key);
      return undefined;
    }
    return { value: entry.value, revision: entry.revision };
  }

  async create(key: string, value: string): Promise<number | undefined> {
    if (await this.get(key)) return undefined;
    return this.write(key, value);
  }

  async update(key: string, value: string, revision: number): Promise<number | undefined> {
    const current = await this.get(key);
    if (!current || current.revision !== revision) return undefined;
    return this.write(key, value);
  }

  async put(key: string, value: string): Promise<number> {
    return this.write(key, value);
  }

  async delete(key: string): Promise<void> {
    this.entries.delete(key);
  }

  private write(key: string, value: string): number {
    const revision = ++this.revision;
    this.entries.set(key, { value, revision, at: Date.now() });
    return revision;
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A JetStream KV bucket as a {@link KvStore}: conflicts (wrong last sequence) become `undefined`. */
export class NatsKvStore implements KvStore {
  constructor(private readonly kv: KV) {}

  async get(key: string): Promise<KvValue | undefined> {
    const entry = await this.kv.get(key);
    if (!entry || entry.operation !== 'PUT') return undefined;
    return { value: decoder.decode(entry.value), revision: entry.revision };
  }

  async create(key: string, value: string): Promise<number | undefined> {
    try {
      return await this.kv.create(key, encoder.encode(value));
    } catch (error) {
      if (isConflict(error)) return undefined;
      throw error;
    }
  }

  async update(key: string, value: string, revision: number): Promise<number | undefined> {
    try {
      return await this.kv.update(key, encoder.encode(value), revision);
    } catch (error) {
      if (isConflict(error)) return undefined;
      throw error;
    }
  }

  put(key: string, value: string): Promise<number> {
    return this.kv.put(key, encoder.encode(value));
  }

  delete(key: string): Promise<void> {
    return this.kv.delete(key);
  }
}

function isConflict(error: unknown): boolean {
  return (
    error instanceof JetStreamApiError &&
    (error.code === JetStreamApiCodes.StreamWrongLastSequence || error.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
}

/** What the LLM layer needs of the process's NATS connection (the Messaging provider has both). */
export interface LlmNatsHandle {
  readonly nc: NatsConnection;
  /** NATS_NAMESPACE ('' for none). */
  readonly namespace: string;
}

export interface BucketOptions {
  /** Values older than this are removed by the server (0: kept). */
  readonly maxAgeMs?: number;
  /** Largest value the bucket accepts. */
  readonly maxValueBytes?: number;
}

/**
 * Opens a namespaced bucket, creating it when missing. Created lazily and idempotently by the
 * process that first needs it (no provisioning step): Kvm.create binds to an existing bucket; a
 * bucket whose max age differs from the configured one is updated so a changed TTL takes effect.
 */
export async function openBucket(handle: LlmNatsHandle, logical: string, options: BucketOptions = {}): Promise<NatsKvStore> {
  const name = new Namespace(handle.namespace).streamName(logical);
  const kvm = new Kvm(handle.nc);
  const kv = await kvm.create(name, {
    history: 1,
    ...(options.maxAgeMs ? { ttl: options.maxAgeMs } : {}),
    ...(options.maxValueBytes ? { maxValueSize: options.maxValueBytes } : {}),
  });
  const status = await kv.status();
  if (options.maxAgeMs && status.ttl !== options.maxAgeMs) {
    const jsm = await jetstreamManager(handle.nc);
    const info = await jsm.streams.info(`KV_${name}`);
    await jsm.streams.update(`KV_${name}`, { ...info.config, max_age: options.maxAgeMs * 1_000_000 });
  }
  return new NatsKvStore(kv);
}
