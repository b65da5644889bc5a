import { Inject, Injectable } from '@nestjs/common';
import {
  CONSUMERS,
  RetryableError,
  Subjects,
  TaskEventSchema,
  WEBHOOK_RETRY_WINDOW_MS,
  WEBHOOK_TIMEOUT_MS,
  webhookEventOf,
  WebhookDeliveryMessageSchema,
  type TaskEvent,
  type WebhookDeliveryMessage,
} from '@roadmap/contracts';
import { JetStreamBatchHandler, JetStreamHandler, JetStreamPublisher } from '@roadmap/messaging';
import { counter, histogram } from '@roadmap/observability';
import { Batcher, Slots } from '@roadmap/runtime';
import { sendWebhook } from './sender.js';
import { WebhookRepository, type Attempt, type PendingDelivery } from './webhook.repository.js';

const deliveries = counter('roadmap_webhook_deliveries_total', 'Webhook delivery attempts by outcome (delivered, retry, failed, skipped)', ['outcome']);
const attemptLatency = histogram('roadmap_webhook_attempt_duration_seconds', 'Time an endpoint took to answer one delivery attempt', []);
const eventToDelivery = histogram('roadmap_webhook_event_to_delivery_seconds', 'From the task event to its successful delivery', [], [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600]);

/** Settings of the webhook worker (config: WEBHOOKS_ALLOW_PRIVATE, WEBHOOK_RETRY_BASE_MS, WORKER_CONCURRENCY). */
export interface WebhookWorkerOptions {
  readonly allowPrivate: boolean;
  readonly retryBaseMs: number;
  /** First attempts the fan-out sends at once (as many as the delivery consumer's slots). */
  readonly directConcurrency: number;
}
export const WEBHOOK_WORKER_OPTIONS = Symbol('WEBHOOK_WORKER_OPTIONS');

/** The longest pause between two attempts of a delivery. */
const MAX_RETRY_DELAY_MS = 15 * 60_000;

/** Exponential backoff with jitter: base·2^(n-1), at most 15 min, then between half and all of it. */
export function webhookRetryDelayMs(attempts: number, baseMs: number, random = Math.random): number {
  const ceiling = Math.min(MAX_RETRY_DELAY_MS, baseMs * 2 ** Math.max(0, attempts - 1));
  return Math.round(ceiling * (0.5 + random() / 2));
}

/**
 * How long the fan-out waits for an endpoint's answer to a first attempt before queueing it (and
 * acknowledging its events): a slow endpoint must not hold up the events of others for long.
 */
const DIRECT_BUDGET_MS = 500;
/** A first attempt with a message and no record may be in flight on another worker this long. */
const FIRST_ATTEMPT_GRACE_MS = WEBHOOK_TIMEOUT_MS + 2_000;
/** A first attempt's outcome waits this long after it ends for its message (which another replica may take). */
const HANDED_OFF_KEEP_MS = 60_000;

/** Reads and attempt records in one statement each for the deliveries handled together (group commit). */
const GROUP_MAX = 256;

/**
 * Webhooks from task events: the fan-out turns each event a webhook subscribes to into a delivery
 * (a row per webhook) and makes its first attempt; one that needs another gets a WEBHOOKS message,
 * whose handler sends it, signed, records the attempt, and asks for a retry with backoff until it
 * succeeds or its 24 h are over.
 *
 * Both are batched against PostgreSQL: a burst of events is one INSERT per fan-out batch, and the
 * deliveries in flight share their reads and their attempt records (Batcher: what arrives while a
 * statement runs leaves with the next), so the database is not what a burst queues on.
 */
@Injectable()
export class WebhookHandlers {
  private readonly reads = new Batcher<string, PendingDelivery | undefined>(
    async (ids) => {
      const found = new Map((await this.repository.pending(ids)).map((d) => [d.id, d]));
      return ids.map((id) => found.get(id));
    },
    { name: 'webhook_delivery_read', maxBatch: GROUP_MAX },
  );
  private readonly records = new Batcher<Attempt, void>(
    async (attempts) => {
      await this.repository.recordAttempts(attempts);
      return attempts.map(() => undefined);
    },
    { name: 'webhook_attempt_record', maxBatch: GROUP_MAX },
  );

  /** First attempts the fan-out makes at once, and their outcomes by delivery id (until their message takes them). */
  private readonly slots: Slots;
  private readonly handedOff = new Map<string, Promise<Outcome>>();

  constructor(
    @Inject(WebhookRepository) private readonly repository: WebhookRepository,
    @Inject(JetStreamPublisher) private readonly publisher: JetStreamPublisher,
    @Inject(WEBHOOK_WORKER_OPTIONS) private readonly options: WebhookWorkerOptions,
  ) {
    this.slots = new Slots(options.directConcurrency);
  }

  /**
   * The fan-out sends each new delivery's first attempt itself, without the hop through the WEBHOOKS
   * stream (a publish, a pull, a consume and a read per delivery: a third of the worker's CPU in a
   * burst). Durability is the event's: it is acknowledged only once every delivery it made was
   * delivered, failed for good, or has its WEBHOOKS message; until then NATS redelivers it, and its
   * rows come back pending. An attempt whose endpoint has not answered within DIRECT_BUDGET_MS gets
   * its message then, so a slow endpoint holds up the events of others at most that long.
   */
  @JetStreamBatchHandler({ consumer: CONSUMERS.webhookFanout, schema: TaskEventSchema, maxBatch: GROUP_MAX, maxWaitMs: 5 })
  async fanOut(events: TaskEvent[]): Promise<void> {
    const subscribed = events.flatMap((event) => {
      const type = webhookEventOf(event.type);
      return type ? [{ taskId: event.taskId, type, key: `${event.taskId}:${event.type}:${event.at}`, at: new Date(event.at), json: event }] : [];
    });
    if (subscribed.length === 0) return;
    const created = await this.repository.createDeliveries(subscribed);
    // Attempted already (the event seen again): its retries are the queue's; queued again (deduplicated).
    const queued = created.filter((d) => d.attempts > 0);
    const first = created.filter((d) => d.attempts === 0);
    const attempts = first.map((d) => this.firstAttempt(d));
    await Promise.all(attempts.map((a) => a.settledOrSlow));
    for (const [i, d] of first.entries()) {
      if (attempts[i]!.settled()?.done) continue;
      // Failed (a retry) or still waiting for its endpoint: its message carries it on, and this
      // process's delivery handler takes the attempt's outcome rather than sending it again.
      const outcome = attempts[i]!.outcome;
      this.handedOff.set(d.id, outcome);
      // Not kept for a message another replica took.
      void outcome.then(() => setTimeout(() => this.handedOff.get(d.id) === outcome && this.handedOff.delete(d.id), HANDED_OFF_KEEP_MS).unref());
      queued.push(d);
    }
    await this.publisher.publishMany(
      queued.map((d) => ({ subject: Subjects.webhookDelivery(d.webhook_id), payload: { deliveryId: d.id } satisfies WebhookDeliveryMessage, msgId: `webhook-delivery:${d.id}` })),
    );
  }

  @JetStreamHandler({ consumer: CONSUMERS.webhookDelivery, schema: WebhookDeliveryMessageSchema })
  async deliver({ deliveryId }: WebhookDeliveryMessage): Promise<void> {
    const handedOff = this.handedOff.get(deliveryId);
    if (handedOff) {
      this.handedOff.delete(deliveryId);
      return settle(await handedOff);
    }
    const d = await this.reads.submit(deliveryId);
    if (!d || d.status !== 'pending') return; // deleted with its webhook, or already sent
    const wait = notDueForMs(d, this.options.retryBaseMs);
    if (wait > 0) {
      throw new RetryableError('WEBHOOK_DELIVERY_FAILED', `webhook delivery ${d.id}: its next attempt is not due yet (or another worker is making it)`, { retryAfterMs: wait });
    }
    settle(await this.attempt(d));
  }

  /**
   * A first attempt from the fan-out, in one of `directConcurrency` slots. Its outcome never rejects:
   * an error (the record's statement, say) leaves the delivery to its message. `settledOrSlow`
   * resolves with the outcome (then in `settled`), or once the endpoint has had DIRECT_BUDGET_MS:
   * the time spent waiting for a slot is the burst's, not a slow endpoint's, and is not counted.
   */
  private firstAttempt(d: PendingDelivery): FirstAttempt {
    let slow!: () => void;
    const settledOrSlow = new Promise<void>((resolve) => (slow = resolve));
    const state: { settled?: Outcome } = {};
    const outcome = (async (): Promise<Outcome> => {
      const release = await this.slots.acquire();
      const budget = setTimeout(slow, DIRECT_BUDGET_MS);
      try {
        return (state.settled = await this.attempt(d));
      } catch (error) {
        return (state.settled = { done: false, retryAfterMs: this.options.retryBaseMs, why: `webhook delivery ${d.id}: ${(error as Error).message}; retrying` });
      } finally {
        clearTimeout(budget);
        release();
        slow();
      }
    })();
    return { outcome, settledOrSlow, settled: () => state.settled };
  }

  /** Sends a delivery, signed, and records the attempt with its consequences. */
  private async attempt(d: PendingDelivery): Promise<Outcome> {
    if (!d.enabled) {
      await this.repository.fail(d.id);
      deliveries.inc({ outcome: 'skipped' });
      return DONE;
    }
    if (d.secret === null) {
      // A task's callback whose owner deleted every webhook since: nothing can sign it.
      await this.records.submit({ deliveryId: d.id, webhookId: d.webhook_id, ok: false, statusCode: null, error: 'no webhook secret to sign with: the owner has no registered webhook', latencyMs: 0, giveUp: true });
      deliveries.inc({ outcome: 'failed' });
      return DONE;
    }
    const result = await sendWebhook({ url: d.url, secret: d.secret, deliveryId: d.id, body: d.body }, this.options.allowPrivate);
    attemptLatency.observe(result.latencyMs / 1000);
    const giveUp = !result.ok && Date.now() - d.retry_from.getTime() >= WEBHOOK_RETRY_WINDOW_MS;
    await this.records.submit({ deliveryId: d.id, webhookId: d.webhook_id, ...result, giveUp });
    if (result.ok) {
      deliveries.inc({ outcome: 'delivered' });
      const at = Date.parse(String(d.event_at));
      if (Number.isFinite(at)) eventToDelivery.observe(Math.max(0, Date.now() - at) / 1000);
      return DONE;
    }
    deliveries.inc({ outcome: giveUp ? 'failed' : 'retry' });
    if (giveUp) return DONE;
    const why = result.error ?? `HTTP ${result.statusCode}`;
    return { done: false, retryAfterMs: webhookRetryDelayMs(d.attempts + 1, this.options.retryBaseMs), why: `webhook delivery ${d.id} to ${new URL(d.url).host} failed (${why}); retrying` };
  }
}

/** A first attempt under way: its outcome, and what the fan-out waits for (see `firstAttempt`). */
interface FirstAttempt {
  readonly outcome: Promise<Outcome>;
  readonly settledOrSlow: Promise<void>;
  readonly settled: () => Outcome | undefined;
}

/** How an attempt ended: nothing left to do, or a retry after `retryAfterMs`. */
type Outcome = { done: true } | { done: false; retryAfterMs: number; why: string };
const DONE: Outcome = { done: true };

/** A retry is the message's: redelivered after the attempt's backoff. */
function settle(outcome: Outcome): void {
  if (!outcome.done) throw new RetryableError('WEBHOOK_DELIVERY_FAILED', outcome.why, { retryAfterMs: outcome.retryAfterMs });
}

/**
 * How long a delivery's message must wait before its attempt: a retry that came early (the message
 * the fan-out queued right after a failed first attempt) waits for its backoff, and a first attempt
 * another worker may be making (queued, never recorded, younger than an attempt can take) waits for
 * that to end; a redelivery asked by the owner is due at once.
 */
export function notDueForMs(d: Pick<PendingDelivery, 'attempts' | 'age_ms' | 'since_attempt_ms'>, retryBaseMs: number): number {
  if (d.since_attempt_ms === null) return d.attempts === 0 ? Math.max(0, FIRST_ATTEMPT_GRACE_MS - d.age_ms) : 0;
  if (d.since_attempt_ms >= webhookRetryDelayMs(d.attempts, retryBaseMs, () => 0)) return 0;
  return webhookRetryDelayMs(d.attempts, retryBaseMs) - d.since_attempt_ms;
}
