import type { Consumer, ConsumerMessages, JsMsg } from '@nats-io/jetstream';
import type { MessageHandler } from '@nestjs/microservices';
import { fieldIssues } from '@roadmap/contracts';
import type { z } from 'zod';
import { JetStreamContext, type ContextRoute } from './context.js';
import type { BatchHandlerSpec, HandlerSpec } from './decorators.js';
import type { Messaging } from './messaging.js';
import { handlerDuration, messagesTotal, queueWait, timeLimitsTotal, type Outcome } from './metrics.js';

/*
 * Per-consumer state of the JetStream server (internal). A route is one handler bound to one durable
 * consumer: its concurrency slots, the messages it holds, and its metric children.
 */

/** Distinct subjects labelled per consumer; beyond that `subject="_other"` keeps the series count bounded. */
const MAX_SUBJECT_LABELS = 256;

type Observer = { observe(value: number): void };
type Incrementer = { inc(value?: number): void };

/** A context the server tracks while it holds the message (heartbeats, shutdown). */
export class TrackedContext extends JetStreamContext {
  /** performance.now() of the last sign of life sent for the message (or of its receipt). */
  lastBeat = performance.now();
  /** Naked at shutdown: the handler's late result must not ack it. */
  abandoned = false;
  /** When the handler started (ms since the epoch), and the task its payload names, for `inspect active`. */
  readonly startedAt = Date.now();
  taskId?: string;
}

/** A message taken from a saturated consumer and held, heartbeated, until a slot frees. */
export interface Parked {
  readonly message: JsMsg;
  lastBeat: number;
}

export abstract class Route implements ContextRoute {
  readonly durable: string;
  /** Deliveries allowed: the declaration's, then the provisioned consumer's own max_deliver. */
  maxDeliver: number;
  readonly streamLogical: string;
  /** null: raw payloads (no parse). */
  readonly schema: z.ZodType | null;
  consumer!: Consumer;
  /** The current consume() session, if any. */
  messages?: ConsumerMessages;
  /** A third of the consumer's ack wait: a held message gets working() at least this often. */
  heartbeatMs = 10_000;
  /** Async work under way (handler runs, batch runs, dead letters); close() waits for it. */
  busy = 0;
  /** No pull loop running (none started yet, or it ended). */
  loopDone = true;
  /** Resolves a waiting pull loop (a slot freed, parking, shutdown). */
  wake?: () => void;
  /** Resolves close()'s wait once the route is idle. */
  onIdle?: () => void;
  readonly active = new Set<TrackedContext>();
  /** Messages that ended in each outcome since the route started (the worker registry reports them). */
  readonly handled: Record<Outcome, number> = { ack: 0, retry: 0, dead_letter: 0 };
  /** When the route was bound to its consumer. */
  readonly since = new Date();
  readonly counters: Record<Outcome | 'time_limit' | 'superseded' | 'duplicate' | 'terminated', Incrementer>;
  /** Slots as configured at start; {@link limit} is what an operator's control set (or this). */
  readonly configuredLimit: number;
  /** Set while an operator has paused the consumer: nothing new is pulled or started. */
  paused?: { readonly by: string; readonly at: string };
  /** Handlers waiting in {@link whenResumed}. */
  private resumeWaiters: Array<() => void> = [];
  /** Soft and hard time limits of a single-message handler, when configured. */
  timeLimits?: { readonly softMs: number; readonly hardMs: number };
  readonly queueWait: Observer;
  private readonly subjects = new Map<string, { readonly logical: string; readonly duration: Record<Outcome, Observer> }>();

  constructor(
    readonly spec: HandlerSpec,
    readonly handler: MessageHandler,
    /** Handler slots (batch slots): changed at runtime by an operator's concurrency control. */
    public limit: number,
    private readonly messaging: Messaging,
  ) {
    this.configuredLimit = limit;
    this.durable = spec.consumer.durable;
    this.maxDeliver = spec.consumer.maxDeliver;
    this.streamLogical = spec.consumer.stream;
    this.schema = spec.schema;
    this.counters = {
      ack: this.tallied('ack'),
      retry: this.tallied('retry'),
      dead_letter: this.tallied('dead_letter'),
      time_limit: timeLimitsTotal.labels({ consumer: this.durable }),
      superseded: messagesTotal.labels({ consumer: this.durable, outcome: 'superseded' }),
      duplicate: messagesTotal.labels({ consumer: this.durable, outcome: 'duplicate' }),
      terminated: messagesTotal.labels({ consumer: this.durable, outcome: 'terminated' }),
    };
    this.queueWait = queueWait.labels({ consumer: this.durable });
  }

  logicalSubject(actual: string): string {
    return this.subjectEntry(actual).logical;
  }

  /** The outcome's metric child, also counted in {@link handled} (a plain number the registry can read). */
  private tallied(outcome: Outcome): Incrementer {
    const child = messagesTotal.labels({ consumer: this.durable, outcome });
    return {
      inc: (value = 1) => {
        this.handled[outcome] += value;
        child.inc(value);
      },
    };
  }

  /** Messages being handled now (single messages running, or the messages of batches running). */
  get inFlight(): number {
    if (this instanceof BatchRoute) {
      let n = 0;
      for (const batch of this.activeBatches) n += batch.length;
      return n;
    }
    return this.active.size;
  }

  /** Messages delivered to this process and held, not handled yet (parked, or a batch being collected). */
  get held(): number {
    if (this instanceof BatchRoute) return this.buffer.length;
    return this instanceof SingleRoute ? this.parked.length : 0;
  }

  /** Handler-duration children of a subject. Cached: label hashing per message shows on the hot path. */
  durations(actual: string): Record<Outcome, Observer> {
    return this.subjectEntry(actual).duration;
  }

  private subjectEntry(actual: string): { readonly logical: string; readonly duration: Record<Outcome, Observer> } {
    let entry = this.subjects.get(actual);
    if (entry === undefined) {
      const logical = this.messaging.logicalSubject(actual);
      const room = this.subjects.size < MAX_SUBJECT_LABELS;
      entry = { logical, duration: durationChildren(this.durable, room ? logical : '_other') };
      if (room) this.subjects.set(actual, entry);
    }
    return entry;
  }

  /** Marks one unit of async work finished, waking the pull loop and close(). */
  release(): void {
    this.busy--;
    this.wakeLoop();
    if (this.busy === 0 && this.loopDone) this.onIdle?.();
  }

  whenResumed(): Promise<void> {
    if (!this.paused) return Promise.resolve();
    return new Promise((resolve) => this.resumeWaiters.push(resolve));
  }

  /** Lets every handler waiting in {@link whenResumed} go on (a resume, or shutdown beginning). */
  releaseResumeWaiters(): void {
    const waiters = this.resumeWaiters;
    this.resumeWaiters = [];
    for (const resolve of waiters) resolve();
  }

  wakeLoop(): void {
    const wake = this.wake;
    if (wake) {
      this.wake = undefined;
      wake();
    }
  }

  waitForWake(): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
    });
  }
}

/** Handlers faster than this on average (ms) count as fast: the route then consumes with a large prefetch. */
const FAST_HANDLER_MS = 5;
/**
 * Handlers needed before a route counts as fast (it is asked at every pull). Small: until then a
 * fast consumer under steady load pulls its free slots, one round trip per batch (256 handlers at
 * prefetch 1 cost ~300 ms of 100+ ms latencies at 13,000 msg/s, bench/README.md). A slow handler is
 * not mistaken for fast by it: 32 handlers averaging under 5 ms are needed, and a route that later
 * saturates is parked and marked slow again.
 */
const FAST_AFTER_SAMPLES = 32;
/** Prefetch of a fast route (consume()'s own default is 100). */
const FAST_PREFETCH = 128;

export class SingleRoute extends Route {
  /** Exponentially weighted mean handler duration (ms) and how many handlers it saw. */
  private meanMs = 0;
  private samples = 0;
  /** max_messages of the current consume() session (1 while pulling free slots: nothing held beyond them). */
  sessionPrefetch = 1;

  constructor(
    spec: HandlerSpec,
    handler: MessageHandler,
    limit: number,
    messaging: Messaging,
    /** Prefetch set in the server options: used as is, never adapted. */
    private readonly fixedPrefetch?: number,
  ) {
    super(spec, handler, limit, messaging);
  }

  /**
   * Whether the route pulls exactly its free slots (fetch) rather than keeping a consume() session:
   * the default until its handlers prove fast, so a busy replica holds nothing beyond what it runs.
   */
  pullsFreeSlots(): boolean {
    return this.fixedPrefetch === undefined && !this.isFast();
  }

  /**
   * max_messages for a consume() session, which a route keeps only with a configured prefetch or
   * once its handlers proved fast (see {@link pullsFreeSlots}): the configured prefetch, else
   * max(limit, 128) — holding more costs nobody anything then.
   */
  nextPrefetch(): number {
    return this.fixedPrefetch ?? Math.max(this.limit, FAST_PREFETCH);
  }

  /** Records a handler's duration, which decides whether the route counts as fast. */
  recordDuration(ms: number): void {
    this.meanMs = this.samples === 0 ? ms : this.meanMs + 0.05 * (ms - this.meanMs);
    this.samples++;
  }

  /** Saturation seen: the handlers are slow, forget the fast history. */
  markSlow(): void {
    this.meanMs = 0;
    this.samples = 0;
  }

  private isFast(): boolean {
    return this.samples >= FAST_AFTER_SAMPLES && this.meanMs < FAST_HANDLER_MS;
  }

  /**
   * Set while every slot is busy and the loop waits for one. If that lasts, the server parks what
   * consume() already holds, so a slow consumer never keeps delivered messages unheartbeated.
   */
  waitingSince?: number;
  /** The consume() session is being closed because the route is saturated. */
  parking = false;
  parked: Parked[] = [];
  /** Stream sequences delivered to this process and not settled yet (running or parked). */
  readonly holding = new Set<number>();
}

export class BatchRoute extends Route {
  declare readonly spec: BatchHandlerSpec;
  /** The batch being collected, and its payloads (same order). */
  buffer: TrackedContext[] = [];
  items: unknown[] = [];
  timer?: NodeJS.Timeout;
  /** The batch timer fired while every batch slot was busy: flush when one frees. */
  due = false;
  batchesInFlight = 0;
  readonly activeBatches = new Set<readonly TrackedContext[]>();
  readonly batchDuration: Record<Outcome, Observer>;

  constructor(spec: BatchHandlerSpec, handler: MessageHandler, limit: number, messaging: Messaging) {
    super(spec, handler, limit, messaging);
    this.batchDuration = durationChildren(this.durable, '(batch)');
  }
}

function durationChildren(consumer: string, subject: string): Record<Outcome, Observer> {
  return {
    ack: handlerDuration.labels({ consumer, subject, outcome: 'ack' }),
    retry: handlerDuration.labels({ consumer, subject, outcome: 'retry' }),
    dead_letter: handlerDuration.labels({ consumer, subject, outcome: 'dead_letter' }),
  };
}

export type Parsed = { ok: true; data: unknown } | { ok: false; detail: string };

const decoder = new TextDecoder();

/** Decodes a message's JSON and validates it with the handler's schema (null: the bytes as they are); never throws. */
export function parse(schema: z.ZodType | null, data: Uint8Array): Parsed {
  if (schema === null) return { ok: true, data };
  let raw: unknown;
  try {
    raw = JSON.parse(decoder.decode(data));
  } catch (err) {
    return { ok: false, detail: `invalid JSON: ${(err as Error).message}` };
  }
  const result = schema.safeParse(raw);
  if (result.success) return { ok: true, data: result.data };
  return {
    ok: false,
    detail: fieldIssues(result.error.issues)
      .map((issue) => `${issue.field}: ${issue.message}`)
      .join('; '),
  };
}
