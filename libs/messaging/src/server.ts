import type { Consumer, ConsumerMessages } from '@nats-io/jetstream';
import { millis } from '@nats-io/nats-core';
import { Server, type CustomTransportStrategy } from '@nestjs/microservices';
import type { Logger } from '@roadmap/observability';
import { BatchDispatcher } from './batch-dispatch.js';
import { ConsumerControl, effectiveConcurrency, type ControlState } from './control.js';
import { JETSTREAM_EXTRAS_KEY, JETSTREAM_TRANSPORT, type HandlerSpec } from './decorators.js';
import { Dispatch, sleep } from './dispatch.js';
import type { JetStreamHandlerExplorer } from './explorer.js';
import type { Messaging } from './messaging.js';
import { consumerConcurrency, consumerPaused } from './metrics.js';
import { BatchRoute, SingleRoute, type Route } from './routes.js';
import type { JetStreamServerOptions, RouteSnapshot } from './server-options.js';
import { SingleDispatcher } from './single-dispatch.js';

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
  private readonly graceMs: number;
  private readonly routes: Route[] = [];
  /** Stopping flag, shutdown and draining signals, acks and the failure policy, shared by the dispatchers. */
  private readonly d: Dispatch;
  private readonly single: SingleDispatcher;
  private readonly batch: BatchDispatcher;
  private closing?: Promise<void>;
  /** Ends the watch of the operator controls. */
  private readonly unwatch = new AbortController();
  private drainRequested = false;
  private heartbeat?: NodeJS.Timeout;
  private bindError?: Error;

  constructor(private readonly options: JetStreamServerOptions) {
    super();
    this.messaging = options.messaging;
    this.log = options.logger.child({ component: 'jetstream-server' });
    this.graceMs = options.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS;
    this.d = new Dispatch(options.messaging, this.log, options.outageRetryMs ?? 120_000);
    this.single = new SingleDispatcher(this.d);
    this.batch = new BatchDispatcher(this.d);
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
    if (this.d.stopping) return;
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
        if (route instanceof SingleRoute) this.single.startParked(route);
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
    if (route instanceof SingleRoute) this.single.startParked(route);
    route.wakeLoop();
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
    while (!this.d.stopping) {
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
        if (this.d.stopping) void messages.close();
        void this.watchConsumer(route, messages);
        if (route instanceof BatchRoute) await this.batch.drain(route, messages);
        else await this.single.drain(route as SingleRoute, messages);
      } catch (err) {
        this.log.error({ err, consumer: route.durable }, 'consumer failed; pulling again shortly');
      }
      route.messages = undefined;
      if (route instanceof SingleRoute && route.parking) {
        // Saturated: what the session held is parked (heartbeated). Pull again once all of it runs
        // and a slot is free.
        while (!this.d.stopping && !route.paused && (route.parked.length > 0 || route.busy >= route.limit)) await route.waitForWake();
        route.parking = false;
      } else if (!this.d.stopping && !route.paused) {
        await sleep(RESTART_DELAY_MS);
      }
    }
    route.loopDone = true;
    if (route.busy === 0) route.onIdle?.();
  }

  // ---- pulling for single messages (their dispatch: single-dispatch.ts) ------------------------

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
      if (this.d.stopping) void messages.close();
      void this.watchConsumer(route, messages);
      await this.single.drain(route, messages);
    } finally {
      route.messages = undefined;
    }
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
        this.single.beatParked(route, now);
        // Only a session with prefetch > 1 holds messages the loop has not taken.
        if (route.sessionPrefetch > 1 && route.waitingSince !== undefined && !route.parking && route.messages && now - route.waitingSince >= period / 2) {
          route.parking = true;
          route.markSlow();
          void route.messages.close();
          route.wakeLoop();
        }
      } else if (route instanceof BatchRoute) {
        this.batch.beat(route, now);
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
    this.d.stopping = true;
    this.unwatch.abort();
    this.d.draining.abort(new Error('shutting down'));
    const started = Date.now();
    for (const route of this.routes) {
      // Handlers waiting for a resume go on and see `draining` (they hand their message back).
      route.releaseResumeWaiters();
      // Ends the session now; the loop still drains what was delivered, naking it.
      void route.messages?.close();
      route.wakeLoop();
      if (route instanceof BatchRoute) this.batch.nakBuffered(route);
      if (route instanceof SingleRoute) this.single.handBackParked(route);
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
      this.d.shutdown.abort(new Error('shutting down: grace period over'));
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
    this.d.sendAcks();
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

function positiveInt(value: number, what: string): number {
  if (!(Number.isInteger(value) && value >= 1)) throw new RangeError(`${what} must be a positive integer, got ${value}`);
  return value;
}
