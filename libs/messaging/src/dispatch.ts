import type { JsMsg } from '@nats-io/jetstream';
import { AppError, Headers, isRetryable, isTransientInfrastructureError } from '@roadmap/contracts';
import type { Logger } from '@roadmap/observability';
import { isObservable, lastValueFrom } from 'rxjs';
import { retryDelayMs } from './backoff.js';
import type { Messaging } from './messaging.js';
import { outageRetries, type DeadLetterCode, type Outcome } from './metrics.js';
import { JetStreamPublisher } from './publisher.js';
import type { BatchRoute, Route, TrackedContext } from './routes.js';
import type { TimeLimitExceeded } from './server-options.js';

/**
 * What every consumer of one JetStream server shares (internal): whether it is stopping, the
 * shutdown and draining signals every context carries, acks sent together, and the failure policy
 * (ride out an outage, retry with backoff, dead-letter). The single-message and batch dispatchers
 * take it; the server owns it.
 */
export class Dispatch {
  /** Set once shutdown begins: nothing new starts, what is delivered is handed back. */
  stopping = false;
  /** Aborted when the grace period runs out at shutdown; every context's signal. */
  readonly shutdown = new AbortController();
  /** Aborted when shutdown begins; every context's `draining`. */
  readonly draining = new AbortController();
  private readonly publisher: JetStreamPublisher;
  /** Acks of the current event-loop turn, sent together: see {@link ack}. */
  private acks: JsMsg[] = [];
  private acksScheduled = false;
  readonly sendAcks = (): void => {
    const acks = this.acks;
    this.acks = [];
    this.acksScheduled = false;
    for (const m of acks) m.ack();
  };

  constructor(
    messaging: Messaging,
    readonly log: Logger,
    private readonly outageRetryMs: number,
  ) {
    this.publisher = new JetStreamPublisher(messaging);
  }

  /**
   * Runs a handler, riding out a brief infrastructure outage (the database restarting, a dropped
   * connection): such a failure is retried in place with backoff while the message stays held and
   * heartbeated, so an outage does not spend the message's deliveries and dead-letter work that is
   * fine. Past `outageRetryMs`, or at shutdown, the failure takes the normal path (retry or dead letter).
   */
  async riding(route: Route, run: () => unknown): Promise<void> {
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

  /**
   * Acks at the end of the current event-loop turn, together. The client writes its buffer to the
   * socket one microtask after the first queued command, and handlers finish on separate microtasks:
   * direct acks would cost a socket write each, the largest cost of dispatch.
   */
  ack(m: JsMsg): void {
    this.acks.push(m);
    if (!this.acksScheduled) {
      this.acksScheduled = true;
      setImmediate(this.sendAcks);
    }
  }

  /** Decides retry or dead letter for a failed message, acts, and logs the failure once. */
  async handleFailure(route: Route, m: JsMsg, err: unknown): Promise<Outcome> {
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
  async handleTimeLimit(route: Route, m: JsMsg, reason: TimeLimitExceeded, err: unknown): Promise<Outcome> {
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
  async deadLetterOrRetry(route: Route, m: JsMsg, reason: DeadLetterCode, detail: string, err: unknown): Promise<Outcome> {
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
  observeQueueWait(route: Route, m: JsMsg): void {
    const publishedAt = m.headers?.get(Headers.publishedAt);
    if (!publishedAt || m.info.deliveryCount !== 1) return;
    const waitedMs = Date.now() - Number(publishedAt);
    if (waitedMs >= 0) route.queueWait.observe(waitedMs / 1000);
  }

  async handleBatchFailure(route: BatchRoute, batch: TrackedContext[], err: unknown): Promise<Outcome> {
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
}

function errorName(err: unknown): string {
  return err instanceof Error ? err.name : 'Error';
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
