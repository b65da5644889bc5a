import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  ReplayPolicy,
  RetentionPolicy,
  StorageType,
  type ConsumerConfig,
  type ConsumerInfo,
  type StreamConfig,
  type StreamInfo,
} from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { millis, nanos } from '@nats-io/nats-core';
import { CONSUMERS, STREAMS, type ConsumerDeclaration, type StreamDeclaration } from '@roadmap/contracts';
import { kvBuckets, kvStreamName, type KvBucketDeclaration, type KvBucketSettings } from './kv-buckets.js';
import type { Messaging } from './messaging.js';

export type ProvisionAction = 'created' | 'updated' | 'unchanged' | 'deleted';

/** One stream or consumer that {@link provision} looked at. */
export interface ProvisionEntry {
  readonly kind: 'stream' | 'consumer' | 'bucket';
  /** Actual (namespaced) name: the stream, `<stream>/<durable>` for a consumer, the bucket for a KV bucket. */
  readonly name: string;
  readonly action: ProvisionAction;
  /** Fields that differed, for `updated`. */
  readonly changes: readonly string[];
}

export interface ProvisionReport {
  readonly entries: readonly ProvisionEntry[];
  readonly created: readonly string[];
  readonly updated: readonly string[];
  readonly unchanged: readonly string[];
  readonly deleted: readonly string[];
}

/** Size limits of one stream (NATS_STREAM_LIMITS); absent fields keep the declaration's. */
export interface StreamLimits {
  /** max_bytes: a full work-queue stream then refuses new messages (publishers retry) rather than dropping queued work. */
  readonly maxBytes?: number;
  /** max_age: messages older than this are removed, consumed or not. */
  readonly maxAgeMs?: number;
}

export interface ProvisionOptions {
  /** Stream and KV bucket replicas (NATS_STREAM_REPLICAS); 1 on a single server, 3 in a cluster. */
  readonly replicas?: number;
  /** Per-stream limits by logical stream name (`LOGS`, `EVENTS`, ...). */
  readonly streamLimits?: Readonly<Record<string, StreamLimits>>;
  /** What sizes the KV buckets (LLM_RATE_WINDOW_MS, LLM_CACHE_TTL_SECONDS); defaults otherwise. */
  readonly kv?: KvBucketSettings;
  /** Overrides every consumer's declared ack wait (tests use a short one to see redeliveries quickly). */
  readonly ackWaitMs?: number;
  /**
   * Deliveries (attempts) per message of the workflow and content consumers, overriding the declared
   * ones (WORKFLOW_MAX_ATTEMPTS, CONTENT_MAX_ATTEMPTS). Workers read the consumer's own max_deliver.
   */
  readonly maxAttempts?: { readonly workflow?: number; readonly content?: number };
}

/** The declaration with the options' overrides applied. */
function configured(declared: ConsumerDeclaration, opts: ProvisionOptions): ConsumerDeclaration {
  const attempts =
    declared.stream === STREAMS.ROADMAP_WORKFLOW.name ? opts.maxAttempts?.workflow : declared.stream === STREAMS.CONTENT_GENERATION.name ? opts.maxAttempts?.content : undefined;
  return {
    ...declared,
    ...(opts.ackWaitMs !== undefined && { ackWaitMs: opts.ackWaitMs }),
    ...(attempts !== undefined && { maxDeliver: attempts }),
  };
}

/**
 * Creates or updates every stream of contracts' STREAMS, every durable consumer of CONSUMERS and
 * every KV bucket (kv-buckets.ts), namespaced. Idempotent: a second run reports everything
 * `unchanged`. Replicas, limits and bucket ages are updated in place (so R1 -> R3 is a re-run with
 * NATS_STREAM_REPLICAS=3); settings JetStream cannot change on a live stream or consumer (storage,
 * retention, ack/deliver policy) fail with a clear error instead of being silently ignored.
 */
export async function provision(messaging: Messaging, opts: ProvisionOptions = {}): Promise<ProvisionReport> {
  const replicas = opts.replicas ?? 1;
  const entries: ProvisionEntry[] = [];
  const unknown = Object.keys(opts.streamLimits ?? {}).filter((name) => !(Object.values(STREAMS) as StreamDeclaration[]).some((d) => d.name === name));
  if (unknown.length > 0) throw new Error(`stream limits for unknown streams: ${unknown.join(', ')}`);
  for (const decl of Object.values(STREAMS) as StreamDeclaration[]) {
    entries.push(await provisionStream(messaging, decl, replicas, opts.streamLimits?.[decl.name]));
  }
  for (const decl of kvBuckets(opts.kv)) entries.push(await provisionBucket(messaging, decl, replicas));
  entries.push(...(await pruneConsumers(messaging)));
  for (const declared of Object.values(CONSUMERS) as ConsumerDeclaration[]) {
    entries.push(await provisionConsumer(messaging, configured(declared, opts)));
  }
  return {
    deleted: entries.filter((e) => e.action === 'deleted').map((e) => e.name),
    entries,
    created: entries.filter((e) => e.action === 'created').map((e) => e.name),
    updated: entries.filter((e) => e.action === 'updated').map((e) => e.name),
    unchanged: entries.filter((e) => e.action === 'unchanged').map((e) => e.name),
  };
}

/**
 * Deletes durable consumers on the declared streams that no declaration names any more (a renamed or
 * split consumer). On a work-queue stream an old consumer's filter would otherwise overlap the new
 * ones and block their creation; its unacked messages stay in the stream for the new consumers.
 * Ephemeral consumers (live-progress readers) are left alone.
 */
async function pruneConsumers(messaging: Messaging): Promise<ProvisionEntry[]> {
  const declared = new Set((Object.values(CONSUMERS) as ConsumerDeclaration[]).map((c) => `${c.stream}/${c.durable}`));
  const entries: ProvisionEntry[] = [];
  for (const decl of Object.values(STREAMS) as StreamDeclaration[]) {
    const stream = messaging.streamName(decl.name);
    for await (const info of messaging.jsm.consumers.list(stream)) {
      const durable = info.config.durable_name;
      if (!durable || declared.has(`${decl.name}/${durable}`)) continue;
      await messaging.jsm.consumers.delete(stream, durable);
      entries.push({ kind: 'consumer', name: `${stream}/${durable}`, action: 'deleted', changes: [] });
    }
  }
  return entries;
}

/** Deletes the namespaced streams of STREAMS (and with them their consumers) and the namespace's KV buckets. For tests. */
export async function deprovision(messaging: Messaging): Promise<string[]> {
  const deleted: string[] = [];
  for (const decl of Object.values(STREAMS) as StreamDeclaration[]) {
    const name = messaging.streamName(decl.name);
    try {
      await messaging.jsm.streams.delete(name);
      deleted.push(name);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
  // Key-value buckets of the namespace (the LLM layer creates `<NS>_LLM_*` on first use; their
  // streams are `KV_<NS>_…`). Only with a namespace: the shared, unprefixed account is left alone.
  if (messaging.namespace !== '') {
    const prefix = `KV_${messaging.streamName('')}`;
    for await (const name of messaging.jsm.streams.names()) {
      if (!name.startsWith(prefix)) continue;
      try {
        await messaging.jsm.streams.delete(name);
        deleted.push(name);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
  }
  return deleted;
}

/**
 * Throws an error naming every declared stream, consumer or KV bucket that does not exist. Services
 * call this at start-up: they never create streams or buckets (that is `npm run provision`'s job).
 */
export async function assertProvisioned(messaging: Messaging): Promise<void> {
  const missing: string[] = [];
  for (const decl of kvBuckets()) {
    const bucket = messaging.streamName(decl.name);
    if ((await streamInfo(messaging, kvStreamName(bucket))) === undefined) missing.push(`KV bucket ${bucket}`);
  }
  for (const decl of Object.values(STREAMS) as StreamDeclaration[]) {
    if ((await streamInfo(messaging, messaging.streamName(decl.name))) === undefined) missing.push(`stream ${messaging.streamName(decl.name)}`);
  }
  for (const decl of Object.values(CONSUMERS) as ConsumerDeclaration[]) {
    const stream = messaging.streamName(decl.stream);
    if ((await consumerInfo(messaging, stream, decl.durable)) === undefined) missing.push(`consumer ${decl.durable} on stream ${stream}`);
  }
  if (missing.length > 0) {
    throw new Error(`JetStream is not provisioned: missing ${missing.join(', ')}. Run \`npm run provision\` (NATS_NAMESPACE="${messaging.namespace}").`);
  }
}

/** Stream configuration JetStream should hold for a declaration (and the operator's limits). */
export function streamConfig(messaging: Messaging, decl: StreamDeclaration, replicas: number, limits: StreamLimits = {}): Partial<StreamConfig> & { name: string } {
  const maxAgeMs = limits.maxAgeMs ?? decl.maxAgeMs;
  return {
    name: messaging.streamName(decl.name),
    description: decl.description,
    subjects: decl.subjects.map((s) => messaging.subject(s)),
    retention: decl.retention === 'workqueue' ? RetentionPolicy.Workqueue : RetentionPolicy.Limits,
    storage: StorageType.File,
    // A full work queue refuses new work (the publisher's error is retryable) instead of dropping
    // queued work; a history stream (events, dead letters) drops its oldest.
    discard: limits.maxBytes !== undefined && decl.retention === 'workqueue' ? DiscardPolicy.New : DiscardPolicy.Old,
    max_age: nanos(maxAgeMs),
    max_bytes: limits.maxBytes ?? -1,
    // JetStream wants the duplicate window within max_age.
    duplicate_window: nanos(maxAgeMs > 0 ? Math.min(decl.duplicateWindowMs, maxAgeMs) : decl.duplicateWindowMs),
    max_msg_size: decl.maxMsgSize,
    num_replicas: replicas,
  };
}

/** Consumer configuration JetStream should hold for a declaration. */
export function consumerConfig(messaging: Messaging, decl: ConsumerDeclaration): Partial<ConsumerConfig> {
  return {
    durable_name: decl.durable,
    description: decl.description,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    replay_policy: ReplayPolicy.Instant,
    ack_wait: nanos(decl.ackWaitMs),
    max_deliver: decl.maxDeliver,
    max_ack_pending: decl.maxAckPending,
    filter_subject: messaging.subject(decl.filterSubject),
  };
}

async function provisionStream(messaging: Messaging, decl: StreamDeclaration, replicas: number, limits?: StreamLimits): Promise<ProvisionEntry> {
  const wanted = streamConfig(messaging, decl, replicas, limits);
  const current = await streamInfo(messaging, wanted.name);
  if (current === undefined) {
    await messaging.jsm.streams.add(wanted);
    return { kind: 'stream', name: wanted.name, action: 'created', changes: [] };
  }
  const have = current.config;
  for (const field of ['retention', 'storage'] as const) {
    if (have[field] !== wanted[field]) {
      throw new Error(`stream ${wanted.name}: ${field} is ${have[field]} but declared ${wanted[field]}; JetStream cannot change it in place (recreate the stream)`);
    }
  }
  const changes = diff(
    {
      description: have.description ?? '',
      subjects: [...have.subjects].sort().join(','),
      discard: have.discard,
      max_age_ms: millis(have.max_age),
      max_bytes: have.max_bytes,
      duplicate_window_ms: millis(have.duplicate_window),
      max_msg_size: have.max_msg_size,
      num_replicas: have.num_replicas,
    },
    {
      description: wanted.description ?? '',
      subjects: [...(wanted.subjects ?? [])].sort().join(','),
      discard: wanted.discard,
      max_age_ms: millis(wanted.max_age ?? 0),
      max_bytes: wanted.max_bytes,
      duplicate_window_ms: millis(wanted.duplicate_window ?? 0),
      max_msg_size: decl.maxMsgSize,
      num_replicas: replicas,
    },
  );
  if (changes.length === 0) return { kind: 'stream', name: wanted.name, action: 'unchanged', changes };
  // Update takes the full config: fields left out would be reset to their defaults.
  const { name, retention: _r, storage: _s, ...updatable } = wanted;
  await messaging.jsm.streams.update(name, { ...have, ...updatable });
  return { kind: 'stream', name: wanted.name, action: 'updated', changes };
}

/**
 * Creates a KV bucket (one value per key, the declared max age and value size, `replicas` copies) or
 * brings an existing one's age, value size and replicas to the declaration.
 */
async function provisionBucket(messaging: Messaging, decl: KvBucketDeclaration, replicas: number): Promise<ProvisionEntry> {
  const bucket = messaging.streamName(decl.name);
  const stream = kvStreamName(bucket);
  const maxValue = decl.maxValueBytes ?? -1;
  const current = await streamInfo(messaging, stream);
  if (current === undefined) {
    await new Kvm(messaging.nc).create(bucket, {
      description: decl.description,
      history: 1,
      ttl: decl.maxAgeMs,
      replicas,
      ...(decl.maxValueBytes !== undefined && { maxValueSize: decl.maxValueBytes }),
    });
    return { kind: 'bucket', name: bucket, action: 'created', changes: [] };
  }
  const have = current.config;
  const changes = diff(
    { max_age_ms: millis(have.max_age), max_msg_size: have.max_msg_size, num_replicas: have.num_replicas },
    { max_age_ms: decl.maxAgeMs, max_msg_size: maxValue, num_replicas: replicas },
  );
  if (changes.length === 0) return { kind: 'bucket', name: bucket, action: 'unchanged', changes };
  await messaging.jsm.streams.update(stream, {
    ...have,
    max_age: nanos(decl.maxAgeMs),
    duplicate_window: nanos(Math.min(millis(have.duplicate_window), decl.maxAgeMs)),
    max_msg_size: maxValue,
    num_replicas: replicas,
  });
  return { kind: 'bucket', name: bucket, action: 'updated', changes };
}

async function provisionConsumer(messaging: Messaging, decl: ConsumerDeclaration): Promise<ProvisionEntry> {
  const stream = messaging.streamName(decl.stream);
  const name = `${stream}/${decl.durable}`;
  const wanted = consumerConfig(messaging, decl);
  const current = await consumerInfo(messaging, stream, decl.durable);
  if (current === undefined) {
    await messaging.jsm.consumers.add(stream, wanted);
    return { kind: 'consumer', name, action: 'created', changes: [] };
  }
  const have = current.config;
  for (const field of ['ack_policy', 'deliver_policy'] as const) {
    if (have[field] !== wanted[field]) {
      throw new Error(`consumer ${name}: ${field} is ${have[field]} but declared ${wanted[field]}; JetStream cannot change it in place (delete the consumer)`);
    }
  }
  const changes = diff(
    {
      description: have.description ?? '',
      ack_wait_ms: millis(have.ack_wait ?? 0),
      max_deliver: have.max_deliver,
      max_ack_pending: have.max_ack_pending,
      filter_subject: have.filter_subject ?? '',
    },
    {
      description: decl.description,
      ack_wait_ms: decl.ackWaitMs,
      max_deliver: decl.maxDeliver,
      max_ack_pending: decl.maxAckPending,
      filter_subject: wanted.filter_subject,
    },
  );
  if (changes.length === 0) return { kind: 'consumer', name, action: 'unchanged', changes };
  await messaging.jsm.consumers.update(stream, decl.durable, {
    description: wanted.description,
    ack_wait: wanted.ack_wait,
    max_deliver: wanted.max_deliver,
    max_ack_pending: wanted.max_ack_pending,
    filter_subject: wanted.filter_subject,
  });
  return { kind: 'consumer', name, action: 'updated', changes };
}

function diff(have: Record<string, unknown>, wanted: Record<string, unknown>): string[] {
  return Object.keys(wanted)
    .filter((key) => have[key] !== wanted[key])
    .map((key) => `${key}: ${String(have[key])} -> ${String(wanted[key])}`);
}

async function streamInfo(messaging: Messaging, name: string): Promise<StreamInfo | undefined> {
  try {
    return await messaging.jsm.streams.info(name);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

async function consumerInfo(messaging: Messaging, stream: string, durable: string): Promise<ConsumerInfo | undefined> {
  try {
    return await messaging.jsm.consumers.info(stream, durable);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

function isNotFound(err: unknown): boolean {
  return err instanceof JetStreamApiError && (err.code === JetStreamApiCodes.StreamNotFound || err.code === JetStreamApiCodes.ConsumerNotFound);
}
