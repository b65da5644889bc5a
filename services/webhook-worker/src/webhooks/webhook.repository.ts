import { Inject, Injectable } from '@nestjs/common';
import { WEBHOOK_RETRY_WINDOW_MS } from '@roadmap/contracts';
import { sql } from '@roadmap/persistence';
import { DataSource } from 'typeorm';

/** A delivery with what sending it needs. */
export interface PendingDelivery {
  id: string;
  status: 'pending' | 'delivered' | 'failed';
  payload: Record<string, unknown>;
  attempts: number;
  retry_from: Date;
  webhook_id: string;
  url: string;
  secret: string;
  enabled: boolean;
}

/** The webhook worker's writes: deliveries (its table), their attempts, and an endpoint's failing streak. */
@Injectable()
export class WebhookRepository {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  /**
   * One delivery per enabled webhook of the task's owner subscribed to `eventType` (or `*`) and
   * registered before the event happened, in one statement; an event seen again (NATS redelivery)
   * maps to the same rows. Returns the pending ones, to be queued (their message ids deduplicate a
   * second queueing).
   */
  async createDeliveries(event: { taskId: string; type: string; key: string; at: Date; json: unknown }): Promise<Array<{ id: string; webhook_id: string }>> {
    const { rows } = await sql<{ id: string; webhook_id: string; status: string }>(
      this.dataSource,
      `INSERT INTO webhook_deliveries (id, webhook_id, event_key, event_type, task_id, payload)
       SELECT gen_random_uuid(), w.id, $2, $3, t.id,
              jsonb_build_object('type', $3::text, 'timestamp', $5::jsonb->>'at', 'data',
                                 jsonb_build_object('taskId', t.id, 'taskType', t.type, 'status', t.status, 'event', $5::jsonb))
         FROM tasks t JOIN webhooks w ON w.owner = t.owner
        WHERE t.id = $1 AND w.enabled AND ($3 = ANY (w.events) OR '*' = ANY (w.events)) AND w.created_at <= $4
       ON CONFLICT (webhook_id, event_key) DO UPDATE SET event_key = EXCLUDED.event_key
       RETURNING id, webhook_id, status`,
      [event.taskId, event.key, event.type, event.at, JSON.stringify(event.json)],
    );
    return rows.filter((r) => r.status === 'pending');
  }

  async pending(deliveryId: string): Promise<PendingDelivery | undefined> {
    return (
      await sql<PendingDelivery>(
        this.dataSource,
        `SELECT d.id, d.status, d.payload, d.attempts, d.retry_from, w.id AS webhook_id, w.url, w.secret, w.enabled
           FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id WHERE d.id = $1`,
        [deliveryId],
      )
    ).rows[0];
  }

  /**
   * Records an attempt and its consequences atomically: a success delivers and ends the
   * endpoint's failing streak; a failure starts or extends it, disables an endpoint failing for 24 h,
   * and fails the delivery once its 24 h of retries are over (`giveUp`).
   */
  async recordAttempt(d: PendingDelivery, outcome: { ok: boolean; statusCode: number | null; error: string | null; latencyMs: number; giveUp: boolean }): Promise<void> {
    // One statement (data-modifying CTEs commit together): a round trip per attempt, not five.
    const status = outcome.ok ? 'delivered' : outcome.giveUp ? 'failed' : 'pending';
    const endpoint = outcome.ok
      ? `UPDATE webhooks SET failing_since = NULL WHERE id = $6 AND failing_since IS NOT NULL`
      : `UPDATE webhooks SET failing_since = COALESCE(failing_since, now()),
                enabled = CASE WHEN failing_since < now() - make_interval(secs => $7::float8 / 1000) THEN false ELSE enabled END,
                disabled_reason = CASE WHEN enabled AND failing_since < now() - make_interval(secs => $7::float8 / 1000)
                                       THEN 'every delivery failed for 24 h: ' || $8 ELSE disabled_reason END,
                updated_at = now()
          WHERE id = $6`;
    await sql(
      this.dataSource,
      `WITH attempt AS (INSERT INTO webhook_attempts (delivery_id, status_code, error, latency_ms) VALUES ($1, $2, $3, $4)),
            delivery AS (UPDATE webhook_deliveries SET attempts = attempts + 1, last_attempt_at = now(), status = $5,
                                delivered_at = CASE WHEN $5 = 'delivered' THEN now() END WHERE id = $1),
            endpoint AS (${endpoint})
       SELECT 1`,
      [d.id, outcome.statusCode, outcome.error, outcome.latencyMs, status, d.webhook_id, ...(outcome.ok ? [] : [WEBHOOK_RETRY_WINDOW_MS, outcome.error ?? `HTTP ${outcome.statusCode}`])],
    );
  }

  /** A delivery that cannot be sent (its endpoint disabled) is recorded as failed. */
  async fail(deliveryId: string): Promise<void> {
    await sql(this.dataSource, `UPDATE webhook_deliveries SET status = 'failed' WHERE id = $1 AND status = 'pending'`, [deliveryId]);
  }
}
