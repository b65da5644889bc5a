import { Inject, Injectable } from '@nestjs/common';
import {
  CONSUMERS,
  RetryableError,
  Subjects,
  TaskEventSchema,
  WEBHOOK_RETRY_WINDOW_MS,
  webhookEventOf,
  WebhookDeliveryMessageSchema,
  type TaskEvent,
  type WebhookDeliveryMessage,
} from '@roadmap/contracts';
import { JetStreamBatchHandler, JetStreamHandler, JetStreamPublisher } from '@roadmap/messaging';
import { counter, histogram } from '@roadmap/observability';
import { Batcher } from '@roadmap/runtime';
import { sendWebhook } from './sender.js';
import { WebhookRepository, type Attempt, type PendingDelivery } from './webhook.repository.js';

const deliveries = counter('roadmap_webhook_deliveries_total', 'Webhook delivery attempts by outcome (delivered, retry, failed, skipped)', ['outcome']);
const attemptLatency = histogram('roadmap_webhook_attempt_duration_seconds', 'Time an endpoint took to answer one delivery attempt', []);
const eventToDelivery = histogram('roadmap_webhook_event_to_delivery_seconds', 'From the task event to its successful delivery', [], [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600]);

/** Settings of the webhook worker (config: WEBHOOKS_ALLOW_PRIVATE, WEBHOOK_RETRY_BASE_MS). */
export interface WebhookWorkerOptions {
  readonly allowPrivate: boolean;
  readonly retryBaseMs: number;
}
export const WEBHOOK_WORKER_OPTIONS = Symbol('WEBHOOK_WORKER_OPTIONS');

/** The longest pause between two attempts of a delivery. */
const MAX_RETRY_DELAY_MS = 15 * 60_000;

/** Exponential backoff with jitter: base·2^(n-1), at most 15 min, then between half and all of it. */
export function webhookRetryDelayMs(attempts: number, baseMs: number, random = Math.random): number {
  const ceiling = Math.min(MAX_RETRY_DELAY_MS, baseMs * 2 ** Math.max(0, attempts - 1));
  return Math.round(ceiling * (0.5 + random() / 2));
}

/** Reads and attempt records in one statement each for the deliveries handled together (group commit). */
const GROUP_MAX = 256;

/**
 * Webhooks from task events: the fan-out turns each event a webhook subscribes to into a delivery
 * (a row per webhook, then a WEBHOOKS message), and the delivery handler sends it, signed, records the
 * attempt, and asks for a retry with backoff until it succeeds or its 24 h are over.
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

  constructor(
    @Inject(WebhookRepository) private readonly repository: WebhookRepository,
    @Inject(JetStreamPublisher) private readonly publisher: JetStreamPublisher,
    @Inject(WEBHOOK_WORKER_OPTIONS) private readonly options: WebhookWorkerOptions,
  ) {}

  @JetStreamBatchHandler({ consumer: CONSUMERS.webhookFanout, schema: TaskEventSchema, maxBatch: GROUP_MAX, maxWaitMs: 5 })
  async fanOut(events: TaskEvent[]): Promise<void> {
    const subscribed = events.flatMap((event) => {
      const type = webhookEventOf(event.type);
      return type ? [{ taskId: event.taskId, type, key: `${event.taskId}:${event.type}:${event.at}`, at: new Date(event.at), json: event }] : [];
    });
    if (subscribed.length === 0) return;
    const created = await this.repository.createDeliveries(subscribed);
    await this.publisher.publishMany(
      created.map((d) => ({ subject: Subjects.webhookDelivery(d.webhook_id), payload: { deliveryId: d.id } satisfies WebhookDeliveryMessage, msgId: `webhook-delivery:${d.id}` })),
    );
  }

  @JetStreamHandler({ consumer: CONSUMERS.webhookDelivery, schema: WebhookDeliveryMessageSchema })
  async deliver({ deliveryId }: WebhookDeliveryMessage): Promise<void> {
    const d = await this.reads.submit(deliveryId);
    if (!d || d.status !== 'pending') return; // deleted with its webhook, or already sent
    if (!d.enabled) {
      await this.repository.fail(d.id);
      deliveries.inc({ outcome: 'skipped' });
      return;
    }
    if (d.secret === null) {
      // A task's callback whose owner deleted every webhook since: nothing can sign it.
      await this.records.submit({ deliveryId: d.id, webhookId: d.webhook_id, ok: false, statusCode: null, error: 'no webhook secret to sign with: the owner has no registered webhook', latencyMs: 0, giveUp: true });
      deliveries.inc({ outcome: 'failed' });
      return;
    }
    const result = await sendWebhook({ url: d.url, secret: d.secret, deliveryId: d.id, body: d.body }, this.options.allowPrivate);
    attemptLatency.observe(result.latencyMs / 1000);
    const giveUp = !result.ok && Date.now() - d.retry_from.getTime() >= WEBHOOK_RETRY_WINDOW_MS;
    await this.records.submit({ deliveryId: d.id, webhookId: d.webhook_id, ...result, giveUp });
    if (result.ok) {
      deliveries.inc({ outcome: 'delivered' });
      const at = Date.parse(String(d.event_at));
      if (Number.isFinite(at)) eventToDelivery.observe(Math.max(0, Date.now() - at) / 1000);
      return;
    }
    deliveries.inc({ outcome: giveUp ? 'failed' : 'retry' });
    if (giveUp) return;
    const why = result.error ?? `HTTP ${result.statusCode}`;
    throw new RetryableError('WEBHOOK_DELIVERY_FAILED', `webhook delivery ${d.id} to ${new URL(d.url).host} failed (${why}); retrying`, {
      retryAfterMs: webhookRetryDelayMs(d.attempts + 1, this.options.retryBaseMs),
    });
  }
}
