import { createHash } from 'node:crypto';
import { JetStreamApiCodes, JetStreamApiError, jetstreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { millis, type NatsConnection } from '@nats-io/nats-core';
import { retryWhileElecting } from './elections.js';
import { kvStreamName } from './kv-buckets.js';
import { Namespace } from './namespace.js';

/** A value and the revision it was written at (for compare-and-set). */
export interface KvValue {
  readonly value: string;
  readonly revision: number;
}

/**
 * The few key-value operations the shared limits and caches need (the LLM layer's rate limits, owner
 * slots and cache; the gateway's API rate limit), with compare-and-set on the revision. One
 * implementation is JetStream KV (shared by every replica); the other is in memory (one process:
 * unit tests, and a process built without a NATS connection).
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
    return this.read(key);
  }

  // Check and write in one synchronous step: awaiting between them would let two concurrent
  // compare-and-sets of one revision both succeed, which the real bucket never allows.
  async create(key: string, value: string): Promise<number | undefined> {
    if (this.read(key)) return undefined;
    return this.write(key, value);
  }

  async update(key: string, value: string, revision: number): Promise<number | undefined> {
    const current = this.read(key);
    if (!current || current.revision !== revision) return undefined;
    return this.write(key, value);
  }

  async put(key: string, value: string): Promise<number> {
    return this.write(key, value);
  }

  async delete(key: string): Promise<void> {
    this.entries.delete(key);
  }

  private read(key: string): KvValue | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (this.maxAgeMs > 0 && Date.now() - entry.at > this.maxAgeMs) {
      this.entries.delete(key);
      return undefined;
    }
    return { value: entry.value, revision: entry.revision };
  }

  private write(key: string, value: string): number {
    const revision = ++this.revision;
    this.entries.set(key, { value, revision, at: Date.now() });
    return revision;
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * A JetStream KV bucket as a {@link KvStore}: conflicts (wrong last sequence) become `undefined`.
 * Every operation waits out a leader election of the bucket's stream (a clustered JetStream's
 * failover): reads and compare-and-set writes are safe to repeat, and a plain put or delete of the
 * same value is too.
 */
export class NatsKvStore implements KvStore {
  constructor(
    private readonly kv: KV,
    private readonly nc?: Pick<NatsConnection, 'isClosed'>,
  ) {}

  private retry<T>(op: () => Promise<T>): Promise<T> {
    return retryWhileElecting(op, () => !(this.nc?.isClosed() ?? false));
  }

  async get(key: string): Promise<KvValue | undefined> {
    const entry = await this.retry(() => this.kv.get(key));
    if (!entry || entry.operation !== 'PUT') return undefined;
    return { value: decoder.decode(entry.value), revision: entry.revision };
  }

  async create(key: string, value: string): Promise<number | undefined> {
    try {
      return await this.retry(() => this.kv.create(key, encoder.encode(value)));
    } catch (error) {
      if (isConflict(error)) return undefined;
      throw error;
    }
  }

  async update(key: string, value: string, revision: number): Promise<number | undefined> {
    try {
      return await this.retry(() => this.kv.update(key, encoder.encode(value), revision));
    } catch (error) {
      if (isConflict(error)) return undefined;
      throw error;
    }
  }

  put(key: string, value: string): Promise<number> {
    return this.retry(() => this.kv.put(key, encoder.encode(value)));
  }

  delete(key: string): Promise<void> {
    return this.retry(() => this.kv.delete(key));
  }
}

function isConflict(error: unknown): boolean {
  return (
    error instanceof JetStreamApiError &&
    (error.code === JetStreamApiCodes.StreamWrongLastSequence || error.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
}

/** What a bucket user needs of the process's NATS connection (the Messaging provider has both). */
export interface KvNatsHandle {
  readonly nc: NatsConnection;
  /** NATS_NAMESPACE ('' for none). */
  readonly namespace: string;
}

export interface BucketOptions {
  /** The max age this process's settings expect (provisioning sets it from the same settings). */
  readonly maxAgeMs?: number;
  /** Largest value this process writes. */
  readonly maxValueBytes?: number;
  /** Told when the bucket differs from what this process expects (it is used as provisioned). */
  readonly warn?: (message: string) => void;
}

/**
 * Looks up a namespaced bucket that provisioning created (`npm run provision`, the chart's migration
 * Job) with NATS_STREAM_REPLICAS replicas; never creates or changes one, so a service needs no
 * stream-management rights and a clustered NATS holds every bucket replicated. A missing bucket is
 * an error naming it; one sized for other settings (LLM_RATE_WINDOW_MS, LLM_CACHE_TTL_SECONDS) is
 * used as is, with a warning to provision again with this process's settings.
 */
export async function openBucket(handle: KvNatsHandle, logical: string, options: BucketOptions = {}): Promise<NatsKvStore> {
  const name = new Namespace(handle.namespace).streamName(logical);
  const jsm = await jetstreamManager(handle.nc);
  let config;
  try {
    config = (await jsm.streams.info(kvStreamName(name))).config;
  } catch (error) {
    if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound) {
      throw new Error(`KV bucket ${name} is not provisioned: run \`npm run provision\` (NATS_NAMESPACE="${handle.namespace}")`);
    }
    throw error;
  }
  if (options.maxAgeMs !== undefined && millis(config.max_age) !== options.maxAgeMs) {
    options.warn?.(`KV bucket ${name} keeps values ${millis(config.max_age)} ms, this process expects ${options.maxAgeMs} ms: provision again with the same settings`);
  }
  if (options.maxValueBytes !== undefined && config.max_msg_size >= 0 && config.max_msg_size < options.maxValueBytes) {
    options.warn?.(`KV bucket ${name} accepts values up to ${config.max_msg_size} bytes, this process writes up to ${options.maxValueBytes}`);
  }
  const kv = await new Kvm(handle.nc).open(name, { allow_direct: config.allow_direct });
  return new NatsKvStore(kv, handle.nc);
}
