import type { Consumer, ConsumerMessages, JsMsg } from '@nats-io/jetstream';
import { millis } from '@nats-io/nats-core';
import { Server, type CustomTransportStrategy, type MessageHandler } from '@nestjs/microservices';
import { AppError, fieldIssues, Headers, isRetryable, type ConsumerDeclaration } from '@roadmap/contracts';
import type { Logger } from '@roadmap/observability';
import { isObservable, lastValueFrom } from 'rxjs';
import type { z } from 'zod';
import { retryDelayMs } from './backoff.js';
import { JetStreamBatchContext, JetStreamContext, type ContextRoute } from './context.js';
import { JETSTREAM_EXTRAS_KEY, JETSTREAM_TRANSPORT, type BatchHandlerSpec, type HandlerSpec } from './decorators.js';
import type { Messaging } from './messaging.js';
import { handlerDuration, messagesTotal, queueWait, type DeadLetterCode, type Outcome } from './metrics.js';
import { JetStreamPublisher } from './publisher.js';

/** Options of {@link JetStreamServer}. */
export interface JetStreamServerOptions {
  readonly messaging: Messaging;
  readonly logger: Logger;
  /**
   * Handlers in flight at once per durable (batches in flight for a batch handler); default 1. Each
   * replica pulls only what it can run, so the rest of the work stays available to other replicas.
   */
  readonly concurrency?: Readonly<Record<string, number>>;
  /**
   * Messages requested from the server ahead of free handler slots, per durable (single-message
   * handlers); default: the durable's concurrency. A prefetched message waits unheartbeated until a
   * slot frees, so keep this low for handlers slower than a third of the ack wait.
   */
  readonly prefetch?: Readonly<Record<string, number>>;
  /** Batch size and flush age per durable of a batch handler, overriding the decorator's (from env config). */
  readonly batches?: Readonly<Record<string, { readonly maxBatch: number; readonly maxWaitMs: number }>>;
  /** On close, how long in-flight handlers may run before they are aborted and their messages naked; default 20 s. */
  readonly shutdownGraceMs?: number;
}

const DEFAULT_SHUTDOWN_GRACE_MS = 20_000;
/** Pause before pulling again after the consumer iterator failed (consumer deleted, server gone). */
const RESTART_DELAY_MS = 1_000;
/** Distinct subjects labelled per consumer; beyond that `subject="_other"` keeps the series count bounded. */
const MAX_SUBJECT_LABELS = 256;

const decoder = new TextDecoder();

/** A context the server tracks while its handler runs (heartbeats, shutdown). */
class TrackedContext extends JetStreamContext {
  /** performance.now() when the handler got the message. */
  startedAt = performance.now();
  /** Naked at shutdown: the handler's late result must not ack it. */
  abandoned = false;
}

type SubjectMetrics = {
  readonly duration: Record<Outcome, { observe(value: number): void }>;
};

/** One handler bound to one durable consumer. */
abstract class Route implements ContextRoute {
  readonly durable: string;
  readonly maxDeliver: number;
  readonly streamLogical: string;
  readonly schema: z.ZodType;
  consumer!: Consumer;
  messages?: ConsumerMessages;
  /** Heartbeat period: a third of the consumer's ack wait. */
  heartbeatMs = 10_000;
  /** Async work under way (handler runs, batch runs, dead letters); close() waits for it. */
  busy = 0;
  loopDone = false;
  /** Resolves a waiting pull loop (a slot freed, or shutdown). */
  wake?: () => void;
  /** Resolves close()'s wait when the route is idle. */
  onIdle?: () => void;
  readonly active = new Set<TrackedContext>();
  private readonly subjects = new Map<string, SubjectMetrics & { readonly logical: string }>();
  readonly counters: Record<Outcome, { inc(value?: number): void }>;
  readonly queueWait: { observe(value: number): void };

  constructor(
    readonly spec: HandlerSpec,
    readonly handler: MessageHandler,
    readonly limit: number,
    private readonly messaging: Messaging,
  ) {
    const decl: ConsumerDeclaration = spec.consumer;
    this.durable = decl.durable;
    this.maxDeliver = decl.maxDeliver;
    this.streamLogical = decl.stream;
    this.schema = spec.schema;
    this.counters = {
      ack: messagesTotal.labels({ consumer: this.durable, outcome: 'ack' }),
      retry: messagesTotal.labels({ consumer: this.durable, outcome: 'retry' }),
      dead_letter: messagesTotal.labels({ consumer: this.durable, outcome: 'dead_letter' }),
    };
    this.queueWait = queueWait.labels({ consumer: this.durable });
  }

  logicalSubject(actual: string): string {
    return this.subjectMetrics(actual).logical;
  }

  /** Per-subject metric children, cached: label hashing per message is measurable on the hot path. */
  subjectMetrics(actual: string): SubjectMetrics & { readonly logical: string } {
    let entry = this.subjects.get(actual);
    if (entry === undefined) {
      const logical = this.messaging.logicalSubject(actual);
      const label = this.subjects.size < MAX_SUBJECT_LABELS ? logical : '_other';
      entry = { logical, duration: durationChildren(this.durable, label) };
      if (this.subjects.size < MAX_SUBJECT_LABELS) this.subjects.set(actual, entry);
    }
    return entry;
  }

  /** Marks one unit of async work finished, waking the pull loop and close(). */
  release(): void {
    this.busy--;
    const wake = this.wake;
    if (wake) {
      this.wake = undefined;
      wake();
    }
    if (this.busy === 0 && this.loopDone) this.onIdle?.();
  }

  waitForWake(): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
    });
  }
}

class SingleRoute extends Route {}

class BatchRoute extends Route {
  declare readonly spec: BatchHandlerSpec;
  buffer: TrackedContext[] = [];
  items: unknown[] = [];
  timer?: NodeJS.Timeout;
  /** The batch timer fired while every batch slot was busy: flush when one frees. */
  due = false;
  batchesInFlight = 0;
  readonly activeBatches = new Set<readonly TrackedContext[]>();
  readonly batchDuration: Record<Outcome, { observe(value: number): void }>;

  constructor(spec: BatchHandlerSpec, handler: MessageHandler, limit: number, messaging: Messaging) {
    super(spec, handler, limit, messaging);
    this.batchDuration = durationChildren(this.durable, '(batch)');
  }
}

function durationChildren(consumer: string, subject: string): Record<Outcome, { observe(value: number): void }> {
  return {
    ack: handlerDuration.labels({ consumer, subject, outcome: 'ack' }),
    retry: handlerDuration.labels({ consumer, subject, outcome: 'retry' }),
    dead_letter: handlerDuration.labels({ consumer, subject, outcome: 'dead_letter' }),
  };
}

type Parsed = { ok: true; data: unknown } | { ok: false; detail: string };

/**
 * NestJS transport that feeds `@JetStreamHandler` / `@JetStreamBatchHandler` methods from durable
 * JetStream pull consumers. Run it in a hybrid app:
 *
 * ```ts
 * const app = await NestFactory.create(AppModule, new FastifyAdapter());
 * app.connectMicroservice({ strategy: new JetStreamServer({ messaging: app.get(Messaging), logger }) });
 * await app.startAllMicroservices();
 * ```
 *
 * Per message: parse JSON, validate with the handler's schema (invalid: dead letter + term, never
 * redelivered), call the handler with heartbeats every third of the ack wait, then ack; on failure
 * retry with backoff (nak) or dead-letter, as the error and the delivery count decide.
 */
export class JetStreamServer extends Server implements CustomTransportStrategy {
  override transportId = JETSTREAM_TRANSPORT;
  /** Failures are handled (ack/nak/term) and logged here, not by Nest's RPC exception filter. */
  override readonly propagatesEventHandlerErrors = true;

  private readonly messaging: Messaging;
  private readonly log: Logger;
  private readonly publisher: JetStreamPublisher;
  private readonly graceMs: number;
  private readonly routes: Route[] = [];
  private readonly shutdown = new AbortController();
  private stopping = false;
  private closing?: Promise<void>;
  /** Acks of this event-loop turn, sent together: see {@link ack}. */
  private acks: JsMsg[] = [];
  private acksScheduled = false;
  private readonly sendAcks = (): void => {
    const acks = this.acks;
    this.acks = [];
    this.acksScheduled = false;
    for (const m of acks) m.ack();
  };
  private heartbeat?: NodeJS.Timeout;

  constructor(private readonly options: JetStreamServerOptions) {
    super();
    this.messaging = options.messaging;
    this.log = options.logger.child({ component: 'jetstream-server' });
    this.publisher = new JetStreamPublisher(options.messaging);
    this.graceMs = options.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS;
  }

  /** Binds every registered handler to its consumer and starts pulling; `callback(err)` if one is missing. */
  listen(callback: (...optionalParams: unknown[]) => unknown): void {
    this.start().then(
      () => callback(),
      (err: unknown) => callback(err),
    );
  }

  /** Not supported: there are no transport events to subscribe to. */
  on(): never {
    throw new Error('JetStreamServer does not emit events');
  }

  /** The NATS connection. */
  unwrap<T>(): T {
    return this.messaging.nc as T;
  }

  /**
   * Stops pulling at once, waits up to `shutdownGraceMs` for in-flight handlers (each acks or naks
   * its message as usual), then aborts the rest and naks their messages so another replica takes
   * them. Never acks a message whose handler did not succeed. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= this.stop();
    return this.closing;
  }

  private async start(): Promise<void> {
    for (const [pattern, handler] of this.getHandlers()) {
      let spec = (handler.extras as Record<string, unknown> | undefined)?.[JETSTREAM_EXTRAS_KEY] as HandlerSpec | undefined;
      if (spec === undefined) {
        this.log.warn({ pattern }, 'handler without a JetStream declaration ignored');
        continue;
      }
      if (handler.next) throw new Error(`more than one handler for consumer ${spec.consumer.durable}; a durable has exactly one`);
      const batch = this.options.batches?.[spec.consumer.durable];
      if (spec.kind === 'batch' && batch) {
        spec = { ...spec, maxBatch: positiveInt(batch.maxBatch, `maxBatch of ${spec.consumer.durable}`), maxWaitMs: Math.max(0, batch.maxWaitMs) };
      }
      const limit = positiveInt(this.options.concurrency?.[spec.consumer.durable] ?? 1, `concurrency of ${spec.consumer.durable}`);
      const route = spec.kind === 'batch' ? new BatchRoute(spec, handler, limit, this.messaging) : new SingleRoute(spec, handler, limit, this.messaging);
      route.consumer = await this.lookUpConsumer(route);
      this.routes.push(route);
    }
    if (this.routes.length === 0) this.log.warn('no @JetStreamHandler registered: nothing to consume');
    const tick = Math.min(...this.routes.map((r) => r.heartbeatMs), 60_000);
    this.heartbeat = setInterval(() => this.beat(), tick);
    this.heartbeat.unref();
    for (const route of this.routes) {
      void this.pullLoop(route);
      this.log.info({ consumer: route.durable, stream: route.streamLogical, concurrency: route.limit }, 'consuming');
    }
  }

  private async lookUpConsumer(route: Route): Promise<Consumer> {
    const stream = this.messaging.streamName(route.streamLogical);
    let consumer: Consumer;
    try {
      consumer = await this.messaging.js.consumers.get(stream, route.durable);
    } catch (err) {
      throw new Error(`consumer ${route.durable} on stream ${stream} is not available (${(err as Error).message}); run \`npm run provision\``, {
        cause: err,
      });
    }
    const info = await consumer.info(true);
    route.heartbeatMs = Math.max(100, Math.floor(millis(info.config.ack_wait ?? 30_000_000_000) / 3));
    if (info.config.max_deliver !== route.maxDeliver) {
      this.log.warn({ consumer: route.durable, declared: route.maxDeliver, actual: info.config.max_deliver }, 'consumer max_deliver differs from its declaration; run `npm run provision`');
    }
    return consumer;
  }

  /** Pulls with `consume()`, restarting it if it fails, until close(). */
  private async pullLoop(route: Route): Promise<void> {
    const maxMessages =
      route instanceof BatchRoute ? route.spec.maxBatch : positiveInt(this.options.prefetch?.[route.durable] ?? route.limit, `prefetch of ${route.durable}`);
    while (!this.stopping) {
      try {
        const messages = await route.consumer.consume({ max_messages: maxMessages });
        route.messages = messages;
        if (this.stopping) await messages.close();
        void this.watchConsumer(route, messages);
        if (route instanceof BatchRoute) await this.drainBatch(route, messages);
        else await this.drainSingle(route, messages);
      } catch (err) {
        this.log.error({ err, consumer: route.durable }, 'consumer failed; pulling again shortly');
      }
      route.messages = undefined;
      if (!this.stopping) await sleep(RESTART_DELAY_MS);
    }
    route.loopDone = true;
    if (route.busy === 0) route.onIdle?.();
  }

  private async drainSingle(route: Route, messages: ConsumerMessages): Promise<void> {
    for await (const m of messages) {
      if (this.stopping) {
        // Delivered to us but not started: hand it straight back.
        m.nak();
        continue;
      }
      route.busy++;
      void this.handleOne(route, m);
      // Take the next message only when a slot is free: consume() requests more from the server
      // only as we iterate, so a busy replica does not hoard work.
      if (route.busy >= route.limit && !this.stopping) await route.waitForWake();
    }
  }

  private async handleOne(route: Route, m: JsMsg): Promise<void> {
    const started = performance.now();
    const metrics = route.subjectMetrics(m.subject);
    let ctx: TrackedContext | undefined;
    try {
      this.observeQueueWait(route, m);
      const parsed = parse(route.schema, m.data);
      if (!parsed.ok) {
        await this.deadLetterOrRetry(route, m, 'invalid_message', parsed.detail, undefined);
        metrics.duration.dead_letter.observe((performance.now() - started) / 1000);
        return;
      }
      ctx = new TrackedContext(m, route, this.shutdown.signal);
      route.active.add(ctx);
      const result = await route.handler(parsed.data, ctx);
      if (isObservable(result)) await lastValueFrom(result, { defaultValue: undefined });
      if (ctx.abandoned) return;
      this.ack(m);
      route.counters.ack.inc();
      metrics.duration.ack.observe((performance.now() - started) / 1000);
    } catch (err) {
      if (ctx?.abandoned) {
        this.log.debug({ err, consumer: route.durable, streamSequence: m.info.streamSequence }, 'handler failed after its message was handed back at shutdown');
        return;
      }
      const outcome = await this.handleFailure(route, m, err);
      metrics.duration[outcome].observe((performance.now() - started) / 1000);
    } finally {
      if (ctx) route.active.delete(ctx);
      route.release();
    }
  }

  /**
   * Acks at the end of the current event-loop turn, all together. The client writes its buffer to
   * the socket on the next microtask after the first queued command; handlers finish on separate
   * microtasks, so direct acks would cost one socket write each (the largest cost of dispatch).
   * Deferring to setImmediate lets every ack of the turn share one write.
   */
  private ack(m: JsMsg): void {
    this.acks.push(m);
    if (!this.acksScheduled) {
      this.acksScheduled = true;
      setImmediate(this.sendAcks);
    }
  }

  /** Decides retry or dead letter for a failed message, acts, and logs the failure once. */
  private async handleFailure(route: Route, m: JsMsg, err: unknown): Promise<Outcome> {
    const { deliveryCount } = m.info;
    const code = err instanceof AppError ? err.code : undefined;
    const message = err instanceof Error ? err.message : String(err);
    if (!isRetryable(err)) {
      return this.deadLetterOrRetry(route, m, 'permanent_error', `${code}: ${message}`, err);
    }
    if (deliveryCount >= route.maxDeliver) {
      return this.deadLetterOrRetry(route, m, 'max_deliver', `${code ?? errorName(err)}: ${message}`, err);
    }
    const delayMs = retryDelayMs(deliveryCount, { retryAfterMs: err instanceof AppError ? err.retryAfterMs : undefined });
    m.nak(delayMs);
    route.counters.retry.inc();
    this.log.warn(
      { err, consumer: route.durable, subject: route.logicalSubject(m.subject), streamSequence: m.info.streamSequence, deliveryCount, code, delayMs },
      'handler failed; message will be retried',
    );
    return 'retry';
  }

  /**
   * Dead-letters and terms a message. If the dead letter cannot be stored (NATS trouble) the message
   * is naked instead: better a redelivery than a message lost.
   */
  private async deadLetterOrRetry(route: Route, m: JsMsg, reason: DeadLetterCode, detail: string, err: unknown): Promise<Outcome> {
    const fields = {
      consumer: route.durable,
      subject: route.logicalSubject(m.subject),
      streamSequence: m.info.streamSequence,
      deliveryCount: m.info.deliveryCount,
      code: err instanceof AppError ? err.code : undefined,
      reason,
      detail,
    };
    try {
      await this.publisher.deadLetter(m, reason, detail);
    } catch (dlqErr) {
      const delayMs = retryDelayMs(m.info.deliveryCount);
      m.nak(delayMs);
      route.counters.retry.inc();
      this.log.error({ ...fields, err: dlqErr, cause: err, delayMs }, 'could not dead-letter the message; it will be redelivered');
      return 'retry';
    }
    m.term();
    route.counters.dead_letter.inc();
    this.log.error({ ...fields, err }, 'message dead-lettered');
    return 'dead_letter';
  }

  private observeQueueWait(route: Route, m: JsMsg): void {
    const publishedAt = m.headers?.get(Headers.publishedAt);
    if (!publishedAt || m.info.deliveryCount !== 1) return;
    const waitedMs = Date.now() - Number(publishedAt);
    if (waitedMs >= 0) route.queueWait.observe(waitedMs / 1000);
  }

  // ---- batches -------------------------------------------------------------------------------

  private async drainBatch(route: BatchRoute, messages: ConsumerMessages): Promise<void> {
    const { maxBatch, maxWaitMs } = route.spec;
    for await (const m of messages) {
      if (this.stopping) {
        m.nak();
        continue;
      }
      this.observeQueueWait(route, m);
      const parsed = parse(route.schema, m.data);
      if (!parsed.ok) {
        // Dead-lettered on its own: one bad entry must not hold up or fail the batch.
        route.busy++;
        void this.deadLetterOrRetry(route, m, 'invalid_message', parsed.detail, undefined).finally(() => route.release());
        continue;
      }
      route.buffer.push(new TrackedContext(m, route, this.shutdown.signal));
      route.items.push(parsed.data);
      if (route.buffer.length === 1) {
        route.timer = setTimeout(() => this.onBatchTimer(route), maxWaitMs);
      }
      if (route.buffer.length >= maxBatch) {
        while (route.batchesInFlight >= route.limit && !this.stopping) await route.waitForWake();
        // Stopping: keep iterating (not break) so what the library already holds is naked below.
        if (!this.stopping) this.flush(route);
      }
    }
    // Stopped: whatever is still buffered was never handed to the handler.
    this.nakBuffered(route);
  }

  private onBatchTimer(route: BatchRoute): void {
    route.timer = undefined;
    if (route.buffer.length === 0 || this.stopping) return;
    if (route.batchesInFlight < route.limit) this.flush(route);
    else route.due = true;
  }

  private flush(route: BatchRoute): void {
    clearTimeout(route.timer);
    route.timer = undefined;
    route.due = false;
    const batch = route.buffer;
    const items = route.items;
    route.buffer = [];
    route.items = [];
    route.batchesInFlight++;
    route.busy++;
    void this.runBatch(route, batch, items);
  }

  private async runBatch(route: BatchRoute, batch: TrackedContext[], items: unknown[]): Promise<void> {
    const started = performance.now();
    route.activeBatches.add(batch);
    let outcome: Outcome = 'ack';
    try {
      const result = await route.handler(items, new JetStreamBatchContext(batch, this.shutdown.signal));
      if (isObservable(result)) await lastValueFrom(result, { defaultValue: undefined });
      for (const ctx of batch) if (!ctx.abandoned) this.ack(ctx.message);
      route.counters.ack.inc(batch.length);
    } catch (err) {
      outcome = await this.handleBatchFailure(route, batch, err);
    } finally {
      route.activeBatches.delete(batch);
      route.batchDuration[outcome].observe((performance.now() - started) / 1000);
      route.batchesInFlight--;
      // A batch that came due while all slots were busy goes now.
      if (route.due && route.buffer.length > 0 && !this.stopping) this.flush(route);
      route.release();
    }
  }

  private async handleBatchFailure(route: BatchRoute, batch: TrackedContext[], err: unknown): Promise<Outcome> {
    const live = batch.filter((ctx) => !ctx.abandoned);
    if (live.length === 0) return 'retry';
    const code = err instanceof AppError ? err.code : undefined;
    const message = err instanceof Error ? err.message : String(err);
    const retryable = isRetryable(err);
    const retryAfterMs = err instanceof AppError ? err.retryAfterMs : undefined;
    const outcomes = await Promise.all(
      live.map(async (ctx): Promise<Outcome> => {
        const m = ctx.message;
        if (!retryable) return this.deadLetterOrRetry(route, m, 'permanent_error', `${code}: ${message}`, err);
        if (m.info.deliveryCount >= route.maxDeliver) return this.deadLetterOrRetry(route, m, 'max_deliver', `${code ?? errorName(err)}: ${message}`, err);
        m.nak(retryDelayMs(m.info.deliveryCount, { retryAfterMs }));
        return 'retry';
      }),
    );
    const retried = outcomes.filter((o) => o === 'retry').length;
    if (retried > 0) {
      route.counters.retry.inc(retried);
      this.log.warn({ err, consumer: route.durable, size: batch.length, retried, code }, 'batch handler failed; messages will be retried');
    }
    return retryable ? 'retry' : 'dead_letter';
  }

  private nakBuffered(route: BatchRoute): void {
    clearTimeout(route.timer);
    route.timer = undefined;
    for (const ctx of route.buffer) ctx.message.nak();
    route.buffer = [];
    route.items = [];
  }

  // ---- lifecycle -----------------------------------------------------------------------------

  /** Keeps the messages of running handlers (and buffered batch entries) from hitting their ack wait. */
  private beat(): void {
    const now = performance.now();
    for (const route of this.routes) {
      for (const ctx of route.active) if (now - ctx.startedAt >= route.heartbeatMs) ctx.working();
      if (route instanceof BatchRoute) {
        for (const ctx of route.buffer) if (now - ctx.startedAt >= route.heartbeatMs) ctx.working();
        for (const batch of route.activeBatches) for (const ctx of batch) if (now - ctx.startedAt >= route.heartbeatMs) ctx.working();
      }
    }
  }

  private async watchConsumer(route: Route, messages: ConsumerMessages): Promise<void> {
    for await (const status of messages.status()) {
      switch (status.type) {
        case 'consumer_deleted':
        case 'consumer_not_found':
        case 'stream_not_found':
        case 'heartbeats_missed':
        case 'exceeded_limits':
          this.log.warn({ consumer: route.durable, status }, 'consumer status');
          break;
        default:
          break;
      }
    }
  }

  private async stop(): Promise<void> {
    this.stopping = true;
    const started = Date.now();
    for (const route of this.routes) {
      // Stops the subscription now; the loop still drains what was already delivered, naking it.
      void route.messages?.close();
      route.wake?.();
      if (route instanceof BatchRoute) this.nakBuffered(route);
    }
    const idle = Promise.all(
      this.routes.map(
        (route) =>
          new Promise<void>((resolve) => {
            route.onIdle = resolve;
            if (route.loopDone && route.busy === 0) resolve();
          }),
      ),
    );
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.graceMs);
    });
    const result = await Promise.race([idle, graceOver]);
    clearTimeout(timer);
    if (result === 'timeout') {
      this.shutdown.abort(new Error('shutting down: grace period over'));
      let naked = 0;
      for (const route of this.routes) {
        const unfinished = [...route.active];
        if (route instanceof BatchRoute) for (const batch of route.activeBatches) unfinished.push(...batch);
        for (const ctx of unfinished) {
          if (ctx.abandoned) continue;
          ctx.abandoned = true;
          ctx.message.nak();
          naked++;
        }
      }
      this.log.warn({ graceMs: this.graceMs, naked }, 'grace period over: aborted running handlers and handed their messages back');
    }
    clearInterval(this.heartbeat);
    this.sendAcks();
    // Acks and naks are fire-and-forget: make sure they left before the connection closes.
    if (!this.messaging.nc.isClosed()) {
      try {
        await this.messaging.nc.flush();
      } catch (err) {
        this.log.warn({ err }, 'could not flush acks on close');
      }
    }
    this.log.info({ ms: Date.now() - started }, 'JetStream server closed');
  }
}

/** Decodes JSON and validates it; never throws. */
function parse(schema: z.ZodType, data: Uint8Array): Parsed {
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

function errorName(err: unknown): string {
  return err instanceof Error ? err.name : 'Error';
}

function positiveInt(value: number, what: string): number {
  if (!(Number.isInteger(value) && value >= 1)) throw new RangeError(`${what} must be a positive integer, got ${value}`);
  return value;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
