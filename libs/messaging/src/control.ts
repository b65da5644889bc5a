import { Kvm, type KV, type KvWatchEntry } from '@nats-io/kv';
import type { Logger } from '@roadmap/observability';
import type { Messaging } from './messaging.js';

/*
 * Operator controls of the consumers, kept in one JetStream KV bucket so they are durable (they
 * survive worker and NATS restarts, and a new replica reads them before it pulls) and need nothing
 * newer than nats-server 2.9 (a bucket is a stream; no per-key TTL is needed: a control stays until
 * an operator changes it back). Keys:
 *
 *   pause.<durable>                        { by, at }            the consumer's workers do not pull
 *   concurrency.<durable>                  { concurrency, by, at } slots of every worker
 *   concurrency.<durable>.<workerId>       { concurrency, by, at } slots of one worker process
 *   drain.<workerId>                       { by, at }            that process stops pulling, finishes and exits 0
 *
 * The gateway writes; every JetStreamServer watches and applies.
 */

/** Logical name of the bucket (namespaced like streams: `T1ABC_ADMIN_CONTROL`). */
export const CONTROL_BUCKET = 'ADMIN_CONTROL';

/** Who changed a control, and when (ISO). */
export interface ControlStamp {
  readonly by: string;
  readonly at: string;
}

export interface ConcurrencyControl extends ControlStamp {
  readonly concurrency: number;
}

/** Every control in force. */
export interface ControlState {
  /** Paused consumers by durable name. */
  readonly paused: ReadonlyMap<string, ControlStamp>;
  /** Concurrency set for every worker, by durable name. */
  readonly concurrency: ReadonlyMap<string, ConcurrencyControl>;
  /** Concurrency set for one worker, by `<durable>.<workerId>`. */
  readonly workerConcurrency: ReadonlyMap<string, ConcurrencyControl>;
  /** Worker processes told to drain, by worker id. */
  readonly drain: ReadonlyMap<string, ControlStamp>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Opens the namespaced control bucket, creating it when missing (provisioning creates it too). */
export async function openControlBucket(messaging: Messaging): Promise<KV> {
  return new Kvm(messaging.nc).create(messaging.streamName(CONTROL_BUCKET), { history: 1 });
}

/**
 * Reads and writes the controls. One per process; the bucket is opened on first use, so a process
 * that never touches controls never creates it.
 */
export class ConsumerControl {
  private bucket?: Promise<KV>;

  constructor(private readonly messaging: Messaging) {}

  kv(): Promise<KV> {
    this.bucket ??= openControlBucket(this.messaging).catch((error: unknown) => {
      this.bucket = undefined;
      throw error;
    });
    return this.bucket;
  }

  pause(durable: string, by: string): Promise<ControlStamp> {
    return this.put(`pause.${durable}`, stamp(by));
  }

  async resume(durable: string): Promise<void> {
    await (await this.kv()).delete(`pause.${durable}`);
  }

  /** Sets (or, with null, clears back to the configured value) a consumer's slots for all workers or one. */
  async setConcurrency(durable: string, concurrency: number | null, by: string, workerId?: string): Promise<void> {
    const key = workerId ? `concurrency.${durable}.${workerId}` : `concurrency.${durable}`;
    if (concurrency === null) await (await this.kv()).delete(key);
    else await this.put(key, { concurrency, ...stamp(by) });
  }

  drain(workerId: string, by: string): Promise<ControlStamp> {
    return this.put(`drain.${workerId}`, stamp(by));
  }

  /** Forgets a worker's own keys (a drained process on exit). */
  async forgetWorker(workerId: string, durables: readonly string[]): Promise<void> {
    const kv = await this.kv();
    await kv.delete(`drain.${workerId}`);
    for (const durable of durables) await kv.delete(`concurrency.${durable}.${workerId}`);
  }

  /** Every control in force now. */
  async read(): Promise<ControlState> {
    const kv = await this.kv();
    const state = emptyState();
    const keys: string[] = [];
    for await (const key of await kv.keys()) keys.push(key);
    await Promise.all(
      keys.map(async (key) => {
        const entry = await kv.get(key);
        if (entry && entry.operation === 'PUT') apply(state, key, decoder.decode(entry.value));
      }),
    );
    return state;
  }

  /**
   * Calls `onChange` with the whole state once the current values are read and after every change,
   * until `signal` aborts. A watch
   * that ends (NATS restarting) is opened again after a pause, starting from the current values, so
   * a change made while it was down is still applied.
   */
  async watch(onChange: (state: ControlState) => void, signal: AbortSignal, logger?: Logger): Promise<void> {
    while (!signal.aborted) {
      try {
        const kv = await this.kv();
        // A fresh read first: a control removed while the watch was down is dropped too.
        const state = (await this.read()) as MutableState;
        onChange(state);
        const iterator = await kv.watch({ key: '>' });
        const stop = () => iterator.stop();
        signal.addEventListener('abort', stop, { once: true });
        try {
          // Every current value first (isUpdate false but on the last of them), then each change.
          for await (const entry of iterator) {
            applyEntry(state, entry);
            if (entry.isUpdate) onChange(state);
          }
        } finally {
          signal.removeEventListener('abort', stop);
        }
      } catch (error) {
        if (!signal.aborted) logger?.warn({ err: error }, 'consumer controls not readable; trying again');
      }
      if (!signal.aborted) await sleep(1_000, signal);
    }
  }

  private async put<T extends object>(key: string, value: T): Promise<T> {
    await (await this.kv()).put(key, encoder.encode(JSON.stringify(value)));
    return value;
  }
}

function stamp(by: string): ControlStamp {
  return { by, at: new Date().toISOString() };
}

type MutableState = { [K in keyof ControlState]: ControlState[K] extends ReadonlyMap<infer A, infer B> ? Map<A, B> : never };

function emptyState(): MutableState {
  return { paused: new Map(), concurrency: new Map(), workerConcurrency: new Map(), drain: new Map() };
}

function applyEntry(state: MutableState, entry: KvWatchEntry): void {
  if (entry.operation === 'PUT') apply(state, entry.key, decoder.decode(entry.value));
  else remove(state, entry.key);
}

function apply(state: MutableState, key: string, raw: string): void {
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(raw) as Record<string, unknown>;
  } catch {
    return;
  }
  const [kind, durable, workerId] = split(key);
  const by = typeof value.by === 'string' ? value.by : 'unknown';
  const at = typeof value.at === 'string' ? value.at : new Date(0).toISOString();
  if (kind === 'pause' && durable) state.paused.set(durable, { by, at });
  else if (kind === 'drain' && durable) state.drain.set(durable, { by, at });
  else if (kind === 'concurrency' && durable && Number.isInteger(value.concurrency) && (value.concurrency as number) >= 1) {
    const control = { concurrency: value.concurrency as number, by, at };
    if (workerId) state.workerConcurrency.set(`${durable}.${workerId}`, control);
    else state.concurrency.set(durable, control);
  }
}

function remove(state: MutableState, key: string): void {
  const [kind, durable, workerId] = split(key);
  if (!durable) return;
  if (kind === 'pause') state.paused.delete(durable);
  else if (kind === 'drain') state.drain.delete(durable);
  else if (kind === 'concurrency') {
    if (workerId) state.workerConcurrency.delete(`${durable}.${workerId}`);
    else state.concurrency.delete(durable);
  }
}

/** `concurrency.content-worker-high.<uuid>` -> kind, durable, worker id (durables hold no dots). */
function split(key: string): [string, string | undefined, string | undefined] {
  const [kind = '', durable, workerId] = key.split('.');
  return [kind, durable, workerId];
}

/** The slots a worker runs a consumer with: its own setting, else everyone's, else its configured value. */
export function effectiveConcurrency(state: ControlState, durable: string, workerId: string | undefined, configured: number): number {
  return (workerId ? state.workerConcurrency.get(`${durable}.${workerId}`)?.concurrency : undefined) ?? state.concurrency.get(durable)?.concurrency ?? configured;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}
