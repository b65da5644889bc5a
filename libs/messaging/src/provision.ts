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
import { millis, nanos } from '@nats-io/nats-core';
import { CONSUMERS, STREAMS, type ConsumerDeclaration, type StreamDeclaration } from '@roadmap/contracts';
import { CONTROL_BUCKET, openControlBucket } from './control.js';
import type { Messaging } from './messaging.js';

export type ProvisionAction = 'created' | 'updated' | 'unchanged' | 'deleted';

/** One stream or consumer that {@link provision} looked at. */
export interface ProvisionEntry {
  readonly kind: 'stream' | 'consumer' | 'bucket';
  /** Actual (namespaced) name: the stream, or `<stream>/<durable>` for a consumer. */
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

export interface ProvisionOptions {
  /** Stream replicas (NATS_STREAM_REPLICAS); 1 on a single server, 3 in a cluster. */
  readonly replicas?: number;
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
 * Creates or updates every stream of contracts' STREAMS and every durable consumer of CONSUMERS,
 * namespaced. Idempotent: a second run reports everything `unchanged`. Settings JetStream cannot
 * change on a live stream or consumer (storage, retention, ack/deliver policy) fail with a clear
 * error instead of being silently ignored.
 */
export async function provision(messaging: Messaging, opts: ProvisionOptions = {}): Promise<ProvisionReport> {
  const replicas = opts.replicas ?? 1;
  const entries: ProvisionEntry[] = [];
  for (const decl of Object.values(STREAMS) as StreamDeclaration[]) {
    entries.push(await provisionStream(messaging, decl, replicas));
  }
  entries.push(...(await pruneConsumers(messaging)));
  for (const declared of Object.values(CONSUMERS) as ConsumerDeclaration[]) {
    entries.push(await provisionConsumer(messaging, configured(declared, opts)));
  }
  entries.push(await provisionControlBucket(messaging));
  return {
    deleted: entries.filter((e) => e.action === 'deleted').map((e) => e.name),
    entries,
    created: entries.filter((e) => e.action === 'created').map((e) => e.name),
    updated: entries.filter((e) => e.action === 'updated').map((e) => e.name),
    unchanged: entries.filter((e) => e.action === 'unchanged').map((e) => e.name),
  };
}

/** The operator-control bucket (pause, concurrency, drain); workers also create it if it is missing. */
async function provisionControlBucket(messaging: Messaging): Promise<ProvisionEntry> {
  const name = messaging.streamName(CONTROL_BUCKET);
  let existed = true;
  try {
    await messaging.jsm.streams.info(`KV_${name}`);
  } catch (err) {
    if (!isNotFound(err)) throw err;
    existed = false;
  }
  await openControlBucket(messaging);
  return { kind: 'bucket', name, action: existed ? 'unchanged' : 'created', changes: [] };
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
 * Throws an error naming every declared stream or consumer that does not exist. Services call this
 * at start-up: they never create streams (that is `npm run provision`'s job).
 */
export async function assertProvisioned(messaging: Messaging): Promise<void> {
  const missing: string[] = [];
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

/** Stream configuration JetStream should hold for a declaration. */
export function streamConfig(messaging: Messaging, decl: StreamDeclaration, replicas: number): Partial<StreamConfig> & { name: string } {
  return {
    name: messaging.streamName(decl.name),
    description: decl.description,
    subjects: decl.subjects.map((s) => messaging.subject(s)),
    retention: decl.retention === 'workqueue' ? RetentionPolicy.Workqueue : RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    max_age: nanos(decl.maxAgeMs),
    duplicate_window: nanos(decl.duplicateWindowMs),
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

async function provisionStream(messaging: Messaging, decl: StreamDeclaration, replicas: number): Promise<ProvisionEntry> {
  const wanted = streamConfig(messaging, decl, replicas);
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
      duplicate_window_ms: millis(have.duplicate_window),
      max_msg_size: have.max_msg_size,
      num_replicas: have.num_replicas,
    },
    {
      description: wanted.description ?? '',
      subjects: [...(wanted.subjects ?? [])].sort().join(','),
      discard: wanted.discard,
      max_age_ms: decl.maxAgeMs,
      duplicate_window_ms: decl.duplicateWindowMs,
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
