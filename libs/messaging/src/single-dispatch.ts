import type { JsMsg, ConsumerMessages } from '@nats-io/jetstream';
import { SupersededError } from '@roadmap/contracts';
import type { Dispatch } from './dispatch.js';
import { parse, TrackedContext, type SingleRoute } from './routes.js';
import { TimeLimitExceeded } from './server-options.js';
import { traceProcess } from './tracing.js';

/**
 * Runs the messages of single-message routes (internal): takes each delivered message into a free
 * slot or parks it (held, heartbeated) until one frees, runs its handler under its time limits,
 * acks on success and leaves failures to the shared policy ({@link Dispatch}).
 */
export class SingleDispatcher {
  constructor(private readonly d: Dispatch) {}

  /** Starts parked messages into free slots (after a resume, or when slots were added). */
  startParked(route: SingleRoute): void {
    if (route.paused || this.d.stopping) return;
    while (route.parked.length > 0 && route.busy < route.limit) {
      const next = route.parked.shift()!;
      route.busy++;
      void this.handleOne(route, next.message, next.lastBeat);
    }
  }

  async drain(route: SingleRoute, messages: ConsumerMessages): Promise<void> {
    for await (const m of messages) {
      if (this.d.stopping) {
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
        this.d.log.warn({ consumer: route.durable, streamSequence: seq, deliveryCount: m.info.deliveryCount }, 'second delivery of a message already held; dropped');
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
      if (route.busy >= route.limit && !this.d.stopping) {
        route.waitingSince = performance.now();
        await route.waitForWake();
        route.waitingSince = undefined;
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
      this.d.observeQueueWait(route, m);
      const parsed = parse(route.schema, m.data);
      if (!parsed.ok) {
        await this.d.deadLetterOrRetry(route, m, 'invalid_message', parsed.detail, undefined);
        durations.dead_letter.observe((performance.now() - started) / 1000);
        return;
      }
      const limits = route.timeLimits;
      limit = limits ? new AbortController() : undefined;
      ctx = new TrackedContext(m, route, limit ? AbortSignal.any([this.d.shutdown.signal, limit.signal]) : this.d.shutdown.signal, this.d.draining.signal);
      ctx.lastBeat = lastBeat;
      const data = parsed.data;
      const taskId = (data as { taskId?: unknown } | null)?.taskId;
      if (typeof taskId === 'string') ctx.taskId = taskId;
      route.active.add(ctx);
      const current = ctx;
      const run = traceProcess(route, m, () => this.d.riding(route, () => route.handler(data, current)));
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
          const outcome = await this.d.deadLetterOrRetry(route, m, 'time_limit', `hard time limit of ${limits.hardMs} ms exceeded`, undefined);
          durations[outcome].observe((performance.now() - started) / 1000);
          return;
        }
      } else {
        await run;
      }
      if (ctx.abandoned || ctx.handedBack) return;
      this.d.ack(m);
      route.counters.ack.inc();
      const ms = performance.now() - started;
      durations.ack.observe(ms / 1000);
      route.recordDuration(ms);
    } catch (err) {
      if (ctx?.abandoned || ctx?.handedBack) {
        this.d.log.debug({ err, consumer: route.durable, streamSequence: m.info.streamSequence }, 'handler ended after its message was handed back at shutdown');
        return;
      }
      if (err instanceof SupersededError) {
        // Fenced: a newer delivery owns the message; acking or naking this one would interfere.
        route.counters.superseded.inc();
        this.d.log.warn({ consumer: route.durable, streamSequence: m.info.streamSequence, deliveryCount: m.info.deliveryCount, detail: err.message }, 'run superseded by a newer delivery; its writes were refused');
        return;
      }
      const timedOut = limit?.signal.aborted ? (limit.signal.reason as TimeLimitExceeded) : undefined;
      const outcome = timedOut ? await this.d.handleTimeLimit(route, m, timedOut, err) : await this.d.handleFailure(route, m, err);
      durations[outcome].observe((performance.now() - started) / 1000);
    } finally {
      clearTimeout(softTimer);
      clearTimeout(hardTimer);
      if (ctx) route.active.delete(ctx);
      route.holding.delete(m.info.streamSequence);
      // A parked message takes the slot over directly (unless paused, or slots were taken away);
      // otherwise the slot is freed.
      const next = this.d.stopping || route.paused || route.busy > route.limit ? undefined : route.parked.shift();
      if (next) void this.handleOne(route, next.message, next.lastBeat);
      else route.release();
    }
  }

  /** working() for every parked message not heard of for a heartbeat period. */
  beatParked(route: SingleRoute, now: number): void {
    for (const held of route.parked) {
      if (now - held.lastBeat >= route.heartbeatMs) {
        held.message.working();
        held.lastBeat = now;
      }
    }
  }

  /** At shutdown: parked messages go straight back. */
  handBackParked(route: SingleRoute): void {
    for (const held of route.parked) {
      held.message.nak();
      route.holding.delete(held.message.info.streamSequence);
    }
    route.parked = [];
  }
}
