import type { Consumer, ConsumerMessages, JsMsg } from '@nats-io/jetstream';
import { millis } from '@nats-io/nats-core';
import { Server, type CustomTransportStrategy } from '@nestjs/microservices';
import { AppError, Headers, isRetryable, isTransientInfrastructureError, SupersededError } from '@roadmap/contracts';
import type { Logger } from '@roadmap/observability';
import { isObservable, lastValueFrom } from 'rxjs';
import { retryDelayMs } from './backoff.js';
import { JetStreamBatchContext } from './context.js';
import { JETSTREAM_EXTRAS_KEY, JETSTREAM_TRANSPORT, type HandlerSpec } from './decorators.js';
import type { Messaging } from './messaging.js';
import { ConsumerControl, effectiveConcurrency, type ControlState } from './control.js';
import { consumerConcurrency, consumerPaused, outageRetries, type DeadLetterCode, type Outcome } from './metrics.js';
import { JetStreamPublisher } from './publisher.js';
import type { JetStreamHandlerExplorer } from './explorer.js';
import { BatchRoute, parse, SingleRoute, TrackedContext, type Route } from './routes.js';
import { traceProcess, traceProcessBatch } from './tracing.js';

/** One consumer of a {@link JetStreamServer} as {@link JetStreamServer.snapshot} reports it. */
export interface RouteSnapshot {
  /** Durable consumer name and logical stream. */
  readonly consumer: string;
  readonly stream: string;
  /** The consumer's filter subject (logical): what the handler serves. */
  readonly filterSubject: string;
  /** Handler slots (batch slots for a batch handler), operator controls applied. */
  readonly concurrency: number;
  /** Handler slots as configured at start. */
  readonly configuredConcurrency: number;
  /** Who paused the consumer and when (ISO), if it is paused. */
  readonly paused: { readonly by: string; readonly at: string } | null;
  /** What runs now (at most {@link MAX_ACTIVE_REPORTED}): since when, and for which task. */
  readonly active: ReadonlyArray<{ readonly subject: string; readonly streamSequence: number; readonly deliveryCount: number; readonly startedAt: string; readonly taskId: string | null }>;
  /** Messages being handled now. */
  readonly inFlight: number;
  /** Messages delivered and held, not handled yet (parked, or a batch being collected). */
  readonly held: number;
  /** Messages per outcome since the consumer was bound. */
  readonly handled: Readonly<Record<Outcome, number>>;
  /** ISO time the consumer was bound. */
  readonly since: string;
}

/** Options of {@link JetStreamServer}. */
export interface JetStreamServerOptions {
  readonly messaging: Messaging;
  /**
   * Operator controls (pause, concurrency, drain) read from the ADMIN_CONTROL KV bucket before the
   * first pull and watched after: `workerId` is this process's id in the worker registry, `onDrain`
   * starts the graceful exit when an operator drains it. Absent: no controls (unit tests).
   */
  readonly control?: { readonly workerId: string; readonly onDrain?: () => void };
  readonly logger: Logger;
  /**
   * Handlers in flight at once per durable (batches in flight for a batch handler); default 1. A
   * replica takes a message only when a slot is free, so other replicas get the rest of the work.
   */
  readonly concurrency?: Readonly<Record<string, number>>;
  /**
   * Messages consume() may hold for a durable beyond those the loop took (single-message handlers).
   * Default: adaptive. Until its handlers prove fast the route pulls exactly its free slots (one
   * fetch, renewed when filled or expired), so a busy replica holds nothing it is not running
   * (nothing waits unheartbeated, other replicas get the work) and an idle one takes a burst in one
   * round trip; once handlers prove fast (mean under 5 ms) it consumes with a prefetch of
   * max(concurrency, 128) for throughput. A fixed value disables the adaptation; messages held past
   * a saturated stretch are then parked and heartbeated.
   */
  readonly prefetch?: Readonly<Record<string, number>>;
  /** Batch size and flush age per durable of a batch handler, overriding the decorator's (env config). */
  readonly batches?: Readonly<Record<string, { readonly maxBatch: number; readonly maxWaitMs: number }>>;
  /** On close, how long in-flight handlers may run before they are aborted and their messages naked; default 20 s. */
  readonly shutdownGraceMs?: number;
  /**
   * How long a handler failing because infrastructure is unreachable (database restarting, dropped
   * connection) is retried in place before the failure counts as a delivery; default 2 minutes.
   */
  readonly outageRetryMs?: number;
  /**
   * Time limits per durable (single-message handlers). At `softMs` the handler's signal aborts with
   * a {@link TimeLimitExceeded} reason so it can checkpoint and stop; its failure is then retried like
   * any other (the next delivery resumes from the checkpoints) and dead-lettered on the last one. At
   * `hardMs` a handler that has not returned is given up: its message is dead-lettered (`time_limit`)
   * and terminated, and its late result is ignored. Absent: no limit.
   */
  readonly timeLimits?: Readonly<Record<string, TimeLimits>>;
}

/** Soft and hard time limits of one kind of work, in ms from the handler's start. */
export interface TimeLimits {
  readonly softMs: number;
  readonly hardMs: number;
}

/** The reason a handler's signal carries when its soft time limit passed (or, rarely, its hard one). */
export class TimeLimitExceeded extends Error {
  constructor(
    readonly limit: 'soft' | 'hard',
    readonly limitMs: number,
  ) {
    super(`${limit} time limit of ${limitMs} ms exceeded`);
    this.name = 'TimeLimitExceeded';
  }

  /** Whether `signal` fired because a time limit passed. */
  static isTimeLimit(signal: AbortSignal): boolean {
    return signal.aborted && signal.reason instanceof TimeLimitExceeded;
  }
}

const DEFAULT_SHUTDOWN_GRACE_MS = 20_000;

/** Running handlers reported per consumer in a snapshot (the worker registry stores it every few seconds). */
const MAX_ACTIVE_REPORTED = 50;

/** Pause before pulling again after the consumer iterator failed (consumer deleted, server gone). */
const RESTART_DELAY_MS = 1_000;
/** How long a slow route's pull for its free slots stays open on the server before it is renewed. */
const FETCH_EXPIRES_MS = 10_000;

/**
 * NestJS transport feeding `@JetStreamHandler` / `@JetStreamBatchHandler` methods from durable
 * JetStream pull consumers. Run it in a hybrid app (with MessagingModule imported, which binds
 * handlers declared on providers):
 *
 * ```ts
 * const app = await NestFactory.create(AppModule, new FastifyAdapter());
 * app.connectMicroservice({ strategy: new JetStreamServer({ messaging: app.get(Messaging), logger }) });
 * await app.startAllMicroservices();
 * ```
 *
 * Per message: parse JSON and validate with the handler's schema (invalid: dead letter + term, never
 * redelivered), call the handler while sending `working()` every third of the ack wait, then ack.
 * On failure: a non-retryable AppError is dead-lettered; anything else is naked with exponential
 * backoff and full jitter, and dead-lettered on the consumer's last allowed delivery.
 */
export class JetStreamServer extends Server implements CustomTransportStrategy {
  override transportId = JETSTREAM_TRANSPORT;
  /** Failures are handled (ack/nak/term) and logged here, not by Nest's RPC exception filter. */
  override readonly propagatesEventHandlerErrors = true;

  private readonly messaging: Messaging;
  private readonly log: Logger;
  private readonly publisher: JetStreamPublisher;
  private readonly graceMs: number;
  private readonly outageRetryMs: number;
  private readonly routes: Route[] = [];
  /** Aborted when the grace period runs out at shutdown; every context's signal. */
  private readonly shutdown = new AbortController();
  /** Aborted when shutdown begins; every context's `draining`. */
  private readonly draining = new AbortController();
  private stopping = false;
  private closing?: Promise<void>;
  /** Ends the watch of the operator controls. */
  private readonly unwatch = new AbortController();
  private drainRequested = false;
  private heartbeat?: NodeJS.Timeout;
  private bindError?: Error;
  /** Acks of the current event-loop turn, sent together: see {@link ack}. */
  private acks: JsMsg[] = [];
  private acksScheduled = false;
  private readonly sendAcks = (): void => {
    const acks = this.acks;
    this.acks = [];
    this.acksScheduled = false;
    for (const m of acks) m.ack();
  };

  constructor(private readonly options: JetStreamServerOptions) {
    super();
    this.messaging = options.messaging;
    this.log = options.logger.child({ component: 'jetstream-server' });
    this.publisher = new JetStreamPublisher(options.messaging);
    this.graceMs = options.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS;
    this.outageRetryMs = options.outageRetryMs ?? 120_000;
  }

  /** Binds every registered handler to its consumer and starts pulling; `callback(err)` if a consumer is missing. */
  listen(callback: (...optionalParams: unknown[]) => unknown): void {
    this.start().then(
      () => callback(),
      (err: unknown) => callback(err),
    );
  }

  /** Not supported: this transport has no events to subscribe to. */
  on(): never {
    throw new Error('JetStreamServer does not emit events');
  }

  /** The NATS connection. */
  unwrap<T>(): T {
    return this.messaging.nc as T;
  }

  /** What each consumer of this process is doing now: a read-only copy (the worker registry reports it). */
  snapshot(): RouteSnapshot[] {
    return this.routes.map((route) => ({
      consumer: route.durable,
      stream: route.streamLogical,
      filterSubject: route.spec.consumer.filterSubject,
      concurrency: route.limit,
      configuredConcurrency: route.configuredLimit,
      paused: route.paused ?? null,
      active: [...route.active].slice(0, MAX_ACTIVE_REPORTED).map((ctx) => ({
        subject: route.logicalSubject(ctx.message.subject),
        streamSequence: ctx.message.info.streamSequence,
        deliveryCount: ctx.message.info.deliveryCount,
        startedAt: new Date(ctx.startedAt).toISOString(),
        taskId: ctx.taskId ?? null,
      })),
      inFlight: route.inFlight,
      held: route.held,
      handled: { ...route.handled },
      since: route.since.toISOString(),
    }));
  }

  /**
   * Stops pulling at once and hands back (nak) what was delivered but not started. Waits up to
   * `shutdownGraceMs` for running handlers, which ack or nak as usual; then aborts the contexts'
   * signals and naks the unfinished messages so another replica takes them. A message is never acked
   * unless its handler succeeded. Idempotent; the connection stays open (Messaging owns it).
   */
  close(): Promise<void> {
    this.closing ??= this.stop();
    return this.closing;
  }

  /**
   * Makes listen() fail with `error`: used by {@link JetStreamHandlerExplorer} when binding a
   * provider's handler failed, since it runs where Nest cannot report it.
   * @internal
   */
  failListen(error: Error): void {
    this.bindError ??= error;
  }

  private async start(): Promise<void> {
    if (this.bindError) throw this.bindError;
    for (const [pattern, handler] of this.getHandlers()) {
      let spec = (handler.extras as Record<string, unknown> | undefined)?.[JETSTREAM_EXTRAS_KEY] as HandlerSpec | undefined;
      if (spec === undefined) {
        this.log.warn({ pattern }, 'handler without a JetStream declaration ignored');
        continue;
      }
      const durable = spec.consumer.durable;
      if (handler.next) throw new Error(`more than one handler for consumer ${durable}; a durable has exactly one`);
      const batch = this.options.batches?.[durable];
      if (spec.kind === 'batch' && batch) {
        spec = { ...spec, maxBatch: positiveInt(batch.maxBatch, `maxBatch of ${durable}`), maxWaitMs: Math.max(0, batch.maxWaitMs) };
      }
      const limit = positiveInt(this.options.concurrency?.[durable] ?? 1, `concurrency of ${durable}`);
      const prefetch = this.options.prefetch?.[durable];
      const route =
        spec.kind === 'batch'
          ? new BatchRoute(spec, handler, limit, this.messaging)
          : new SingleRoute(spec, handler, limit, this.messaging, prefetch === undefined ? undefined : positiveInt(prefetch, `prefetch of ${durable}`));
      const limits = this.options.timeLimits?.[durable];
      if (limits && route instanceof SingleRoute) {
        if (!(limits.softMs > 0 && limits.hardMs > limits.softMs)) throw new Error(`time limits of ${durable}: need 0 < soft < hard (got ${limits.softMs}, ${limits.hardMs})`);
        route.timeLimits = limits;
      }
      route.consumer = await this.lookUpConsumer(route);
      this.routes.push(route);
    }
    if (this.routes.length === 0) this.log.warn('no @JetStreamHandler registered: nothing to consume');
    if (this.options.control && this.routes.length > 0) {
      // Before the first pull: a new replica of a paused consumer must not take anything.
      const control = new ConsumerControl(this.messaging);
      this.applyControls(await control.read());
      void control.watch((state) => this.applyControls(state), this.unwatch.signal, this.log);
    }
    for (const route of this.routes) {
      consumerPaused.set({ consumer: route.durable }, route.paused ? 1 : 0);
      consumerConcurrency.set({ consumer: route.durable }, route.limit);
    }
    // Half the shortest heartbeat period: a held message gets working() within 1.5 periods (half its ack wait).
    const tick = Math.max(50, Math.min(...this.routes.map((r) => r.heartbeatMs), 60_000) / 2);
    this.heartbeat = setInterval(() => this.beat(), tick);
    this.heartbeat.unref();
    for (const route of this.routes) {
      void this.pullLoop(route);
      this.log.info({ consumer: route.durable, stream: route.streamLogical, concurrency: route.limit }, 'consuming');
    }
  }

  /** Applies the operator controls in force: pause or resume, slots, and a drain of this process. */
  private applyControls(state: ControlState): void {
    if (this.stopping) return;
    const workerId = this.options.control?.workerId;
    for (const route of this.routes) {
      const paused = state.paused.get(route.durable);
      if (paused && !route.paused) this.pauseRoute(route, paused);
      else if (!paused && route.paused) this.resumeRoute(route);
      else if (paused) route.paused = paused;
      const limit = effectiveConcurrency(state, route.durable, workerId, route.configuredLimit);
      if (limit !== route.limit) {
        this.log.info({ consumer: route.durable, from: route.limit, to: limit }, 'concurrency changed by an operator');
        route.limit = limit;
        consumerConcurrency.set({ consumer: route.durable }, limit);
        this.startParked(route);
        route.wakeLoop();
      }
    }
    const drain = workerId ? state.drain.get(workerId) : undefined;
    if (drain && !this.drainRequested) {
      this.drainRequested = true;
      this.log.warn({ by: drain.by, at: drain.at }, 'drained by an operator: finishing in-flight work, then exiting');
      this.options.control?.onDrain?.();
    }
  }

  /**
   * Stops the route pulling and starting. A consume() session (a fast route, a batch route) is
   * closed and what it already delivered is parked (or batched and flushed): held, heartbeated, run
   * on resume. A pull for free slots is left to expire (at most 10 s), its deliveries parked too:
   * closing it would leave messages the server still sends to nobody until their ack wait ran out.
   * Running handlers finish and ack as usual.
   */
  private pauseRoute(route: Route, by: { by: string; at: string }): void {
    route.paused = by;
    consumerPaused.set({ consumer: route.durable }, 1);
    this.log.warn({ consumer: route.durable, by: by.by, at: by.at }, 'consumer paused by an operator');
    const session = route instanceof SingleRoute ? route.sessionPrefetch > 1 : true;
    if (session && route.messages) void route.messages.close();
    route.wakeLoop();
  }

  private resumeRoute(route: Route): void {
    route.paused = undefined;
    route.releaseResumeWaiters();
    consumerPaused.set({ consumer: route.durable }, 0);
    this.log.info({ consumer: route.durable }, 'consumer resumed');
    this.startParked(route);
    route.wakeLoop();
  }

  /** Starts parked messages into free slots (after a resume, or when slots were added). */
  private startParked(route: Route): void {
    if (!(route instanceof SingleRoute) || route.paused || this.stopping) return;
    while (route.parked.length > 0 && route.busy < route.limit) {
      const next = route.parked.shift()!;
      route.busy++;
      void this.handleOne(route, next.message, next.lastBeat);
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
    const { config } = await consumer.info(true);
    route.heartbeatMs = Math.max(100, Math.floor(millis(config.ack_wait ?? 30_000_000_000) / 3));
    // Attempts are configured when provisioning (WORKFLOW_MAX_ATTEMPTS, ...): the consumer's own
    // max_deliver is the truth every replica follows, so "last delivery" means the same everywhere.
    if (config.max_deliver !== undefined && config.max_deliver > 0) route.maxDeliver = config.max_deliver;
    return consumer;
  }

  /** Pulls with consume() until close(), starting a new session after parking or a failure. */
  private async pullLoop(route: Route): Promise<void> {
    route.loopDone = false;
    while (!this.stopping) {
      if (route.paused) {
        // Paused by an operator: no pull until resumed (or closed).
        await route.waitForWake();
        continue;
      }
      try {
        if (route instanceof SingleRoute && route.pullsFreeSlots()) {
          await this.pullFreeSlots(route);
          continue;
        }
        let maxMessages: number;
        if (route instanceof SingleRoute) {
          maxMessages = route.nextPrefetch();
          route.sessionPrefetch = maxMessages;
        } else {
          maxMessages = (route as BatchRoute).spec.maxBatch;
        }
        const messages = await route.consumer.consume({ max_messages: maxMessages });
        route.messages = messages;
        if (this.stopping) void messages.close();
        void this.watchConsumer(route, messages);
        if (route instanceof BatchRoute) await this.drainBatch(route, messages);
        else await this.drainSingle(route as SingleRoute, messages);
      } catch (err) {
        this.log.error({ err, consumer: route.durable }, 'consumer failed; pulling again shortly');
      }
      route.messages = undefined;
      if (route instanceof SingleRoute && route.parking) {
        // Saturated: what the session held is parked (heartbeated). Pull again once all of it runs
        // and a slot is free.
        while (!this.stopping && !route.paused && (route.parked.length > 0 || route.busy >= route.limit)) await route.waitForWake();
        route.parking = false;
      } else if (!this.stopping && !route.paused) {
        await sleep(RESTART_DELAY_MS);
      }
    }
    route.loopDone = true;
    if (route.busy === 0) route.onIdle?.();
  }

  // ---- single messages -----------------------------------------------------------------------

  /**
   * One pull for exactly the route's free slots (fetch), drained until it is filled or expires: a
   * replica that frees 32 slots takes the next 32 messages in one round trip instead of 32 one after
   * another, and is never delivered more than it can start, so nothing waits unheartbeated and other
   * replicas get the rest. (A consume() session refills at a fixed size when the loop takes a message.)
   */
  private async pullFreeSlots(route: SingleRoute): Promise<void> {
    const free = route.limit - route.busy;
    if (free <= 0) {
      await route.waitForWake();
      return;
    }
    route.sessionPrefetch = 1;
    try {
      const messages = await route.consumer.fetch({ max_messages: free, expires: FETCH_EXPIRES_MS });
      route.messages = messages;
      if (this.stopping) void messages.close();
      void this.watchConsumer(route, messages);
      await this.drainSingle(route, messages);
    } finally {
      route.messages = undefined;
    }
  }

  private async drainSingle(route: SingleRoute, messages: ConsumerMessages): Promise<void> {
    for await (const m of messages) {
      if (this.stopping) {
        // Delivered to us but not started: hand it straight back.
        m.nak();
        continue;
      }
      const seq = m.info.streamSequence;
      if (route.holding.has(seq)) {
        // A second copy of a message this process holds: nats-server before 2.10.15 could deliver a
        // redelivered message twice, the copy with delivery count 1 (nats-io/nats-server#5305). The
        // copy is dropped, neither acked nor naked: the held delivery's ack or nak settles the
        // sequence for both, so the work is not done twice side by side.
        route.counters.duplicate.inc();
        this.log.warn({ consumer: route.durable, streamSequence: seq, deliveryCount: m.info.deliveryCount }, 'second delivery of a message already held; dropped');
        continue;
      }
      route.holding.add(seq);
      if (route.parking || route.paused || route.busy >= route.limit) {
        m.working();
        route.parked.push({ message: m, lastBeat: performance.now() });
        continue;
      }
      route.busy++;
      void this.handleOne(route, m, performance.now());
      // Take the next message only when a slot is free: consume() requests more only as we iterate,
      // so a busy replica does not hoard work.
      if (route.busy >= route.limit && !this.stopping) {
        route.waitingSince = performance.now();
        await route.waitForWake();
        route.waitingSince = undefined;
      }
    }
  }

  /**
   * Runs a handler, riding out a brief infrastructure outage (the database restarting, a dropped
   * connection): such a failure is retried in place with backoff while the message stays held and
   * heartbeated, so an outage does not spend the message's deliveries and dead-letter work that is
   * fine. Past `outageRetryMs`, or at shutdown, the failure takes the normal path (retry or dead letter).
   */
  private async riding(route: Route, run: () => unknown): Promise<void> {
    const started = performance.now();
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await run();
        if (isObservable(result)) await lastValueFrom(result, { defaultValue: undefined });
        return;
      } catch (err) {
        const elapsed = performance.now() - started;
        if (this.stopping || !isTransientInfrastructureError(err) || elapsed >= this.outageRetryMs) throw err;
        const delay = Math.min(5_000, 250 * 2 ** Math.min(attempt, 5)) * (0.5 + Math.random() / 2);
        if (attempt === 1) this.log.warn({ err, consumer: route.durable }, 'infrastructure unreachable; retrying in place');
        outageRetries.inc({ consumer: route.durable });
        await sleep(Math.min(delay, this.outageRetryMs - elapsed));
      }
    }
  }

  private async handleOne(route: SingleRoute, m: JsMsg, lastBeat: number): Promise<void> {
    const started = performance.now();
    const durations = route.durations(m.subject);
    let ctx: TrackedContext | undefined;
    let limit: AbortController | undefined;
    let softTimer: NodeJS.Timeout | undefined;
    let hardTimer: NodeJS.Timeout | undefined;
    try {
      this.observeQueueWait(route, m);
      const parsed = parse(route.schema, m.data);
      if (!parsed.ok) {
        await this.deadLetterOrRetry(route, m, 'invalid_message', parsed.detail, undefined);
        durations.dead_letter.observe((performance.now() - started) / 1000);
        return;
      }
      const limits = route.timeLimits;
      limit = limits ? new AbortController() : undefined;
      ctx = new TrackedContext(m, route, limit ? AbortSignal.any([this.shutdown.signal, limit.signal]) : this.shutdown.signal, this.draining.signal);
      ctx.lastBeat = lastBeat;
      const data = parsed.data;
      const taskId = (data as { taskId?: unknown } | null)?.taskId;
      if (typeof taskId === 'string') ctx.taskId = taskId;
      route.active.add(ctx);
      const current = ctx;
      const run = traceProcess(route, m, () => this.riding(route, () => route.handler(data, current)));
      if (limits && limit) {
        const controller = limit;
        softTimer = setTimeout(() => controller.abort(new TimeLimitExceeded('soft', limits.softMs)), limits.softMs);
        const expired = await Promise.race([
          run.then(() => false),
          new Promise<boolean>((resolve) => {
            hardTimer = setTimeout(() => resolve(true), limits.hardMs);
          }),
        ]);
        if (expired) {
          // Given up: the handler ignored its aborted signal. Its late result must not ack.
          ctx.abandoned = true;
          run.catch(() => undefined);
          controller.abort(new TimeLimitExceeded('hard', limits.hardMs));
          route.counters.time_limit.inc();
          const outcome = await this.deadLetterOrRetry(route, m, 'time_limit', `hard time limit of ${limits.hardMs} ms exceeded`, undefined);
          durations[outcome].observe((performance.now() - started) / 1000);
          return;
        }
      } else {
        await run;
      }
      if (ctx.abandoned || ctx.handedBack) return;
      this.ack(m);
      route.counters.ack.inc();
      const ms = performance.now() - started;
      durations.ack.observe(ms / 1000);
      route.recordDuration(ms);
    } catch (err) {
      if (ctx?.abandoned || ctx?.handedBack) {
        this.log.debug({ err, consumer: route.durable, streamSequence: m.info.streamSequence }, 'handler ended after its message was handed back at shutdown');
        return;
      }
      if (err instanceof SupersededError) {
        // Fenced: a newer delivery owns the message; acking or naking this one would interfere.
        route.counters.superseded.inc();
        this.log.warn({ consumer: route.durable, streamSequence: m.info.streamSequence, deliveryCount: m.info.deliveryCount, detail: err.message }, 'run superseded by a newer delivery; its writes were refused');
        return;
      }
      const timedOut = limit?.signal.aborted ? (limit.signal.reason as TimeLimitExceeded) : undefined;
      const outcome = timedOut ? await this.handleTimeLimit(route, m, timedOut, err) : await this.handleFailure(route, m, err);
      durations[outcome].observe((performance.now() - started) / 1000);
    } finally {
      clearTimeout(softTimer);
      clearTimeout(hardTimer);
      if (ctx) route.active.delete(ctx);
      route.holding.delete(m.info.streamSequence);
      // A parked message takes the slot over directly (unless paused, or slots were taken away);
      // otherwise the slot is freed.
      const next = this.stopping || route.paused || route.busy > route.limit ? undefined : route.parked.shift();
      if (next) void this.handleOne(route, next.message, next.lastBeat);
      else route.release();
    }
  }

  /**
   * Acks at the end of the current event-loop turn, together. The client writes its buffer to the
   * socket one microtask after the first queued command, and handlers finish on separate microtasks:
   * direct acks would cost a socket write each, the largest cost of dispatch.
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
    if (!isRetryable(err)) return this.deadLetterOrRetry(route, m, 'permanent_error', `${code}: ${message}`, err);
    if (deliveryCount >= route.maxDeliver) return this.deadLetterOrRetry(route, m, 'max_deliver', `${code ?? errorName(err)}: ${message}`, err);
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
   * A handler that stopped after its soft time limit: retried like a retryable failure (the next
   * delivery resumes from its checkpoints), dead-lettered as `time_limit` on the last delivery.
   */
  private async handleTimeLimit(route: Route, m: JsMsg, reason: TimeLimitExceeded, err: unknown): Promise<Outcome> {
    route.counters.time_limit.inc();
    const { deliveryCount } = m.info;
    if (deliveryCount >= route.maxDeliver) return this.deadLetterOrRetry(route, m, 'time_limit', `${reason.message} on delivery ${deliveryCount} of ${route.maxDeliver}`, err);
    const delayMs = retryDelayMs(deliveryCount);
    m.nak(delayMs);
    route.counters.retry.inc();
    this.log.warn(
      { err, consumer: route.durable, subject: route.logicalSubject(m.subject), streamSequence: m.info.streamSequence, deliveryCount, delayMs },
      `handler stopped at its ${reason.message.replace(' exceeded', '')}; message will be retried`,
    );
    return 'retry';
  }

  /**
   * Dead-letters and terms a message. If the dead letter cannot be stored (NATS trouble) the message
   * is naked instead: a redelivery is better than a lost message. A handler declared with
   * `deadLetter: false` has its message terminated and logged only.
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
    if (!route.spec.deadLetter) {
      // The handler opted out (the dead-letter consumer itself): failed for good, but not republished.
      m.term();
      route.counters.terminated.inc();
      this.log.error({ ...fields, err }, 'message failed for good and terminated (deadLetter: false: not dead-lettered)');
      return 'dead_letter';
    }
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

  /** Publish-to-delivery time of first deliveries (redeliveries would count backoff as queueing). */
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
      route.buffer.push(new TrackedContext(m, route, this.shutdown.signal, this.draining.signal));
      route.items.push(parsed.data);
      if (route.buffer.length === 1) route.timer = setTimeout(() => this.onBatchTimer(route), maxWaitMs);
      if (route.buffer.length >= maxBatch) {
        while (route.batchesInFlight >= route.limit && !this.stopping) await route.waitForWake();
        // Stopping: keep iterating (no break) so what the session already holds is naked.
        if (!this.stopping) this.flush(route);
      }
    }
    // Paused: the session was closed, but what it delivered is run (finish what is held).
    if (route.paused && !this.stopping && route.buffer.length > 0) {
      while (route.batchesInFlight >= route.limit && !this.stopping) await route.waitForWake();
      if (!this.stopping) this.flush(route);
    }
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
      await traceProcessBatch(route, batch.map((ctx) => ctx.message), () =>
        this.riding(route, () => route.handler(items, new JetStreamBatchContext(batch, this.shutdown.signal))),
      );
      for (const ctx of batch) if (!ctx.abandoned && !ctx.handedBack) this.ack(ctx.message);
      route.counters.ack.inc(batch.length);
    } catch (err) {
      outcome = await this.handleBatchFailure(route, batch, err);
    } finally {
      route.activeBatches.delete(batch);
      route.batchDuration[outcome].observe((performance.now() - started) / 1000);
      route.batchesInFlight--;
      // A batch that came due while every slot was busy goes now.
      if (route.due && route.buffer.length > 0 && !this.stopping) this.flush(route);
      route.release();
    }
  }

  private async handleBatchFailure(route: BatchRoute, batch: TrackedContext[], err: unknown): Promise<Outcome> {
    const live = batch.filter((ctx) => !ctx.abandoned && !ctx.handedBack);
    if (live.length === 0) return 'retry';
    const code = err instanceof AppError ? err.code : undefined;
    const message = err instanceof Error ? err.message : String(err);
    const retryable = isRetryable(err);
    const retryAfterMs = err instanceof AppError ? err.retryAfterMs : undefined;
    const outcomes = await Promise.all(
      live.map(async ({ message: m }): Promise<Outcome> => {
        if (!retryable) return this.deadLetterOrRetry(route, m, 'permanent_error', `${code}: ${message}`, err);
        if (m.info.deliveryCount >= route.maxDeliver) return this.deadLetterOrRetry(route, m, 'max_deliver', `${code ?? errorName(err)}: ${message}`, err);
        m.nak(retryDelayMs(m.info.deliveryCount, { retryAfterMs }));
        return 'retry';
      }),
    );
    const retried = outcomes.filter((o) => o === 'retry').length;
    if (retried > 0) {
      route.counters.retry.inc(retried);
      this.log.warn({ err, consumer: route.durable, size: batch.length, retried, code }, 'batch handler failed; its messages will be retried');
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

  /**
   * Sends working() for every held message not heard of for a heartbeat period, and parks routes
   * that stayed saturated: their consume() session is closed and what it already holds is taken
   * into the (heartbeated) parked list, so no delivered message waits unheartbeated for long.
   */
  private beat(): void {
    const now = performance.now();
    for (const route of this.routes) {
      const period = route.heartbeatMs;
      for (const ctx of route.active) {
        if (now - ctx.lastBeat >= period) {
          ctx.working();
          ctx.lastBeat = now;
        }
      }
      if (route instanceof SingleRoute) {
        for (const held of route.parked) {
          if (now - held.lastBeat >= period) {
            held.message.working();
            held.lastBeat = now;
          }
        }
        // Only a session with prefetch > 1 holds messages the loop has not taken.
        if (route.sessionPrefetch > 1 && route.waitingSince !== undefined && !route.parking && route.messages && now - route.waitingSince >= period / 2) {
          route.parking = true;
          route.markSlow();
          void route.messages.close();
          route.wakeLoop();
        }
      } else if (route instanceof BatchRoute) {
        for (const held of route.buffer) {
          if (now - held.lastBeat >= period) {
            held.working();
            held.lastBeat = now;
          }
        }
        for (const batch of route.activeBatches) {
          for (const held of batch) {
            if (now - held.lastBeat >= period) {
              held.working();
              held.lastBeat = now;
            }
          }
        }
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
    this.unwatch.abort();
    this.draining.abort(new Error('shutting down'));
    const started = Date.now();
    for (const route of this.routes) {
      // Handlers waiting for a resume go on and see `draining` (they hand their message back).
      route.releaseResumeWaiters();
      // Ends the session now; the loop still drains what was delivered, naking it.
      void route.messages?.close();
      route.wakeLoop();
      if (route instanceof BatchRoute) this.nakBuffered(route);
      if (route instanceof SingleRoute) {
        for (const held of route.parked) {
          held.message.nak();
          route.holding.delete(held.message.info.streamSequence);
        }
        route.parked = [];
      }
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
    if (this.drainRequested && this.options.control) {
      // The drain key names this process only: remove it (and its own slot settings) on the way out.
      await new ConsumerControl(this.messaging)
        .forgetWorker(this.options.control.workerId, this.routes.map((r) => r.durable))
        .catch((err: unknown) => this.log.warn({ err }, 'could not remove the drain control of this worker'));
    }
    // Acks and naks are fire-and-forget: make sure they left (a round trip) before the connection
    // is drained. Disconnected, the client keeps them buffered for the reconnect.
    if (this.messaging.isConnected()) {
      try {
        await this.messaging.ping();
      } catch (err) {
        this.log.warn({ err }, 'could not confirm that acks were sent on close');
      }
    }
    this.log.info({ ms: Date.now() - started }, 'JetStream server closed');
  }
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
