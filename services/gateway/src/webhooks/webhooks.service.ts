import { randomBytes } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { NotFoundError, Subjects } from '@roadmap/contracts';
import { JetStreamPublisher } from '@roadmap/messaging';
import { timeOrderedId } from '@roadmap/runtime';
import { assertWebhookUrlAllowed } from './url-check.js';
import type { CreateWebhook, DeliveriesQuery, UpdateWebhook } from './webhooks.dto.js';
import { WebhooksRepository, type DeliveryRow, type WebhookRow } from './webhooks.repository.js';

/** Settings of the webhooks module. */
export interface WebhooksOptions {
  /** WEBHOOKS_ALLOW_PRIVATE: loopback, private and link-local URLs are accepted (never metadata addresses). */
  readonly allowPrivate: boolean;
}
export const WEBHOOKS_OPTIONS = Symbol('WEBHOOKS_OPTIONS');

/** A Standard Webhooks signing secret: `whsec_` and 24 random bytes in base64. */
function newSecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`;
}

/**
 * An owner's webhook endpoints: registration (the secret shown once), changes, secret rotation, and
 * the record of deliveries. Every read and write is scoped to the caller's owner: another owner's
 * webhook is a 404, as if it did not exist.
 */
@Injectable()
export class WebhooksService {
  constructor(
    @Inject(WebhooksRepository) private readonly repository: WebhooksRepository,
    @Inject(JetStreamPublisher) private readonly publisher: JetStreamPublisher,
    @Inject(WEBHOOKS_OPTIONS) private readonly options: WebhooksOptions,
  ) {}

  async create(owner: string, body: CreateWebhook) {
    await assertWebhookUrlAllowed(body.url, this.options.allowPrivate);
    const secret = newSecret();
    const row = await this.repository.insert({ id: timeOrderedId(), owner, url: body.url, description: body.description ?? null, events: body.events, secret });
    return { ...webhookView(row), secret };
  }

  async list(owner: string) {
    return { items: (await this.repository.list(owner)).map(webhookView) };
  }

  async get(id: string, owner: string) {
    return webhookView(await this.find(id, owner, true));
  }

  async update(id: string, owner: string, body: UpdateWebhook) {
    const row = await this.repository.update(id, owner, body);
    if (!row) throw new NotFoundError('Webhook', id);
    return webhookView(row);
  }

  async delete(id: string, owner: string): Promise<void> {
    if (!(await this.repository.delete(id, owner))) throw new NotFoundError('Webhook', id);
  }

  /** A new secret, returned once; deliveries from now on are signed with it. */
  async rotateSecret(id: string, owner: string) {
    const secret = newSecret();
    const row = await this.repository.update(id, owner, { secret });
    if (!row) throw new NotFoundError('Webhook', id);
    return { ...webhookView(row), secret };
  }

  async deliveries(id: string, owner: string, query: DeliveriesQuery) {
    await this.find(id, owner, true);
    return { items: (await this.repository.deliveries(id, query.limit, query.status)).map(deliveryView) };
  }

  /** Sends a delivery again (with the same webhook-id, so a receiver that has it can tell). */
  async redeliver(id: string, deliveryId: string, owner: string) {
    await this.find(id, owner, true);
    const delivery = await this.repository.requeue(id, deliveryId);
    if (!delivery) throw new NotFoundError('Delivery', deliveryId);
    await this.publisher.publish(Subjects.webhookDelivery(id), { deliveryId }, { msgId: `webhook-redeliver:${deliveryId}:${Date.now()}` });
    return deliveryView(delivery);
  }

  /** `callbacks`: a task's callback (its id is the task's) is found too, for reading. */
  private async find(id: string, owner: string, callbacks = false): Promise<WebhookRow> {
    const row = await this.repository.find(id, owner, callbacks);
    if (!row) throw new NotFoundError('Webhook', id);
    return row;
  }
}

function webhookView(row: WebhookRow) {
  return {
    id: row.id,
    url: row.url,
    description: row.description,
    events: row.events,
    enabled: row.enabled,
    default: row.is_default,
    taskId: row.task_id,
    disabledReason: row.disabled_reason,
    failingSince: row.failing_since?.toISOString() ?? null,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

function deliveryView(row: DeliveryRow) {
  return {
    id: row.id,
    eventType: row.event_type,
    taskId: row.task_id,
    status: row.status,
    attempts: row.attempt_list.map((a) => ({ at: new Date(a.at).toISOString(), statusCode: a.statusCode, error: a.error, latencyMs: a.latencyMs })),
    createdAt: row.created_at.toISOString(),
    lastAttemptAt: row.last_attempt_at?.toISOString() ?? null,
    deliveredAt: row.delivered_at?.toISOString() ?? null,
  };
}
