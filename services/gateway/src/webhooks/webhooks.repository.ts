import { Inject, Injectable } from '@nestjs/common';
import { sql } from '@roadmap/persistence';
import { DataSource } from 'typeorm';

export interface WebhookRow {
  id: string;
  owner: string;
  url: string;
  description: string | null;
  events: string[];
  secret: string;
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

/** The webhooks tables as the gateway reads and writes them (deliveries are the worker's, but for redelivery). */
@Injectable()
export class WebhooksRepository {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  async insert(row: Pick<WebhookRow, 'id' | 'owner' | 'url' | 'description' | 'events' | 'secret'>): Promise<WebhookRow> {
    const { rows } = await sql<WebhookRow>(
      this.dataSource,
      `INSERT INTO webhooks (id, owner, url, description, events, secret) VALUES ($1, $2, $3, $4, $5, $6) RETURNING *`,
      [row.id, row.owner, row.url, row.description, row.events, row.secret],
    );
    return rows[0]!;
  }

  async list(owner: string): Promise<WebhookRow[]> {
    return (await sql<WebhookRow>(this.dataSource, `SELECT * FROM webhooks WHERE owner = $1 ORDER BY created_at, id`, [owner])).rows;
  }

  async find(id: string, owner: string): Promise<WebhookRow | undefined> {
    return (await sql<WebhookRow>(this.dataSource, `SELECT * FROM webhooks WHERE id = $1 AND owner = $2`, [id, owner])).rows[0];
  }

  /** Applies the given changes; enabling clears the reason it was disabled and its failing streak. */
  async update(id: string, owner: string, changes: { enabled?: boolean; events?: string[]; description?: string | null; secret?: string }): Promise<WebhookRow | undefined> {
    const { rows } = await sql<WebhookRow>(
      this.dataSource,
      `UPDATE webhooks SET
          enabled = COALESCE($3, enabled),
          disabled_reason = CASE WHEN $3::boolean IS NULL THEN disabled_reason WHEN $3 THEN NULL ELSE 'disabled by its owner' END,
          failing_since = CASE WHEN $3 THEN NULL ELSE failing_since END,
          events = COALESCE($4, events),
          description = CASE WHEN $5::boolean THEN $6 ELSE description END,
          secret = COALESCE($7, secret),
          updated_at = now()
        WHERE id = $1 AND owner = $2 RETURNING *`,
      [id, owner, changes.enabled ?? null, changes.events ?? null, changes.description !== undefined, changes.description ?? null, changes.secret ?? null],
    );
    return rows[0];
  }

  async delete(id: string, owner: string): Promise<boolean> {
    return (await sql(this.dataSource, `DELETE FROM webhooks WHERE id = $1 AND owner = $2`, [id, owner])).count > 0;
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
