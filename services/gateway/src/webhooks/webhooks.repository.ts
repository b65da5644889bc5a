import { Inject, Injectable } from '@nestjs/common';
import { sql } from '@roadmap/persistence';
import { DataSource } from 'typeorm';

export interface WebhookRow {
  id: string;
  owner: string;
  url: string;
  description: string | null;
  events: string[];
  /** Null for a task's callback, signed with the owner's default secret. */
  secret: string | null;
  /** The task of a callback (`callbackUrl`); null for a registered endpoint. */
  task_id: string | null;
  /** The owner's default: their oldest registered endpoint, whose secret signs their callbacks. */
  is_default: boolean;
  enabled: boolean;
  disabled_reason: string | null;
  failing_since: Date | null;
  created_at: Date;
  updated_at: Date;
}

export interface DeliveryRow {
  id: string;
  webhook_id: string;
  event_type: string;
  task_id: string | null;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  created_at: Date;
  last_attempt_at: Date | null;
  delivered_at: Date | null;
  attempt_list: Array<{ at: string; statusCode: number | null; error: string | null; latencyMs: number }>;
}

/** Whether a row is its owner's oldest registered endpoint (the default secret's). */
const IS_DEFAULT = `(task_id IS NULL AND id = (SELECT o.id FROM webhooks o WHERE o.owner = webhooks.owner AND o.task_id IS NULL ORDER BY o.created_at, o.id LIMIT 1)) AS is_default`;

/**
 * The webhooks tables as the gateway reads and writes them (deliveries are the worker's, but for
 * redelivery). Changes apply to registered endpoints only; a task's callback can be read with its deliveries.
 */
@Injectable()
export class WebhooksRepository {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  async insert(row: Pick<WebhookRow, 'id' | 'owner' | 'url' | 'description' | 'events'> & { secret: string }): Promise<WebhookRow> {
    const { rows } = await sql<{ id: string }>(
      this.dataSource,
      `INSERT INTO webhooks (id, owner, url, description, events, secret) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
      [row.id, row.owner, row.url, row.description, row.events, row.secret],
    );
    return (await this.find(rows[0]!.id, row.owner))!;
  }

  async list(owner: string): Promise<WebhookRow[]> {
    return (await sql<WebhookRow>(this.dataSource, `SELECT *, ${IS_DEFAULT} FROM webhooks WHERE owner = $1 AND task_id IS NULL ORDER BY created_at, id`, [owner])).rows;
  }

  /** A registered endpoint or (`callbacks`) also a task's callback, whose id is its task's. */
  async find(id: string, owner: string, callbacks = false): Promise<WebhookRow | undefined> {
    return (
      await sql<WebhookRow>(this.dataSource, `SELECT *, ${IS_DEFAULT} FROM webhooks WHERE id = $1 AND owner = $2 AND ($3 OR task_id IS NULL)`, [id, owner, callbacks])
    ).rows[0];
  }

  /** Applies the given changes; enabling clears the reason it was disabled and its failing streak. */
  async update(id: string, owner: string, changes: { enabled?: boolean; events?: string[]; description?: string | null; secret?: string }): Promise<WebhookRow | undefined> {
    const { rows } = await sql<{ id: string }>(
      this.dataSource,
      `UPDATE webhooks SET
          enabled = COALESCE($3, enabled),
          disabled_reason = CASE WHEN $3::boolean IS NULL THEN disabled_reason WHEN $3 THEN NULL ELSE 'disabled by its owner' END,
          failing_since = CASE WHEN $3 THEN NULL ELSE failing_since END,
          events = COALESCE($4, events),
          description = CASE WHEN $5::boolean THEN $6 ELSE description END,
          secret = COALESCE($7, secret),
          updated_at = now()
        WHERE id = $1 AND owner = $2 AND task_id IS NULL RETURNING id`,
      [id, owner, changes.enabled ?? null, changes.events ?? null, changes.description !== undefined, changes.description ?? null, changes.secret ?? null],
    );
    return rows[0] && this.find(id, owner);
  }

  async delete(id: string, owner: string): Promise<boolean> {
    return (await sql(this.dataSource, `DELETE FROM webhooks WHERE id = $1 AND owner = $2 AND task_id IS NULL`, [id, owner])).count > 0;
  }

  /** A webhook's deliveries, newest first, each with its attempts. */
  async deliveries(webhookId: string, limit: number, status?: string, deliveryId?: string): Promise<DeliveryRow[]> {
    const { rows } = await sql<DeliveryRow>(
      this.dataSource,
      `SELECT d.id, d.webhook_id, d.event_type, d.task_id, d.status, d.attempts, d.created_at, d.last_attempt_at, d.delivered_at,
              COALESCE((SELECT json_agg(json_build_object('at', a.attempted_at, 'statusCode', a.status_code, 'error', a.error, 'latencyMs', a.latency_ms)
                                 ORDER BY a.attempted_at)
                          FROM webhook_attempts a WHERE a.delivery_id = d.id), '[]') AS attempt_list
         FROM webhook_deliveries d
        WHERE d.webhook_id = $1 AND ($3::text IS NULL OR d.status = $3) AND ($4::uuid IS NULL OR d.id = $4)
        ORDER BY d.created_at DESC, d.id DESC LIMIT $2`,
      [webhookId, limit, status ?? null, deliveryId ?? null],
    );
    return rows;
  }

  /** Puts a delivery back to pending for one more round of attempts; undefined when it is not this webhook's. */
  async requeue(webhookId: string, deliveryId: string): Promise<DeliveryRow | undefined> {
    const { rows } = await sql<{ id: string }>(
      this.dataSource,
      `UPDATE webhook_deliveries SET status = 'pending', retry_from = now() WHERE id = $1 AND webhook_id = $2 RETURNING id`,
      [deliveryId, webhookId],
    );
    if (!rows[0]) return undefined;
    return (await this.deliveries(webhookId, 1, undefined, deliveryId))[0];
  }
}
