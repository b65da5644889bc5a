import { Inject, Injectable } from '@nestjs/common';
import { WEBHOOK_RETRY_WINDOW_MS } from '@roadmap/contracts';
import { sql } from '@roadmap/persistence';
import { timeOrderedId } from '@roadmap/runtime';
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

  /** The task a progress event is about: its owner, type and status (undefined when it is gone). */
  async task(taskId: string): Promise<{ owner: string; type: string; status: string } | undefined> {
    return (await sql<{ owner: string; type: string; status: string }>(this.dataSource, `SELECT owner, type, status FROM tasks WHERE id = $1`, [taskId])).rows[0];
  }

  /**
   * One delivery per enabled webhook of `owner` subscribed to `eventType` (or `*`) and registered
   * before the event happened; an event seen again (NATS redelivery) maps to the same rows. Returns
   * the pending ones, to be queued (their message ids deduplicate a second queueing).
   */
  async createDeliveries(owner: string, eventType: string, eventKey: string, at: Date, taskId: string, payload: (deliveryId: string) => object): Promise<Array<{ id: string; webhook_id: string }>> {
    const { rows: hooks } = await sql<{ id: string }>(
      this.dataSource,
      `SELECT id FROM webhooks WHERE owner = $1 AND enabled AND ($2 = ANY(events) OR '*' = ANY(events)) AND created_at <= $3`,
      [owner, eventType, at],
    );
    const created: Array<{ id: string; webhook_id: string }> = [];
    for (const hook of hooks) {
      const id = timeOrderedId();
      const { rows } = await sql<{ id: string; webhook_id: string; status: string }>(
        this.dataSource,
        `INSERT INTO webhook_deliveries (id, webhook_id, event_key, event_type, task_id, payload) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (webhook_id, event_key) DO UPDATE SET event_key = EXCLUDED.event_key
         RETURNING id, webhook_id, status`,
        [id, hook.id, eventKey, eventType, taskId, JSON.stringify(payload(id))],
      );
      if (rows[0]?.status === 'pending') created.push(rows[0]);
    }
    return created;
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
   * Records an attempt and its consequences in one transaction: a success delivers and ends the
   * endpoint's failing streak; a failure starts or extends it, disables an endpoint failing for 24 h,
   * and fails the delivery once its 24 h of retries are over (`giveUp`).
   */
  async recordAttempt(d: PendingDelivery, outcome: { ok: boolean; statusCode: number | null; error: string | null; latencyMs: number; giveUp: boolean }): Promise<void> {
    await this.dataSource.transaction(async (em) => {
      await sql(em, `INSERT INTO webhook_attempts (delivery_id, status_code, error, latency_ms) VALUES ($1, $2, $3, $4)`, [d.id, outcome.statusCode, outcome.error, outcome.latencyMs]);
      const status = outcome.ok ? 'delivered' : outcome.giveUp ? 'failed' : 'pending';
      await sql(
        em,
        `UPDATE webhook_deliveries SET attempts = attempts + 1, last_attempt_at = now(), status = $2, delivered_at = CASE WHEN $2 = 'delivered' THEN now() END WHERE id = $1`,
        [d.id, status],
      );
      if (outcome.ok) {
        await sql(em, `UPDATE webhooks SET failing_since = NULL WHERE id = $1 AND failing_since IS NOT NULL`, [d.webhook_id]);
        return;
      }
      await sql(
        em,
        `UPDATE webhooks SET failing_since = COALESCE(failing_since, now()),
                enabled = CASE WHEN failing_since < now() - make_interval(secs => $2::float8 / 1000) THEN false ELSE enabled END,
                disabled_reason = CASE WHEN enabled AND failing_since < now() - make_interval(secs => $2::float8 / 1000)
                                       THEN 'every delivery failed for 24 h: ' || $3 ELSE disabled_reason END,
                updated_at = now()
          WHERE id = $1`,
        [d.webhook_id, WEBHOOK_RETRY_WINDOW_MS, outcome.error ?? `HTTP ${outcome.statusCode}`],
      );
    });
  }

  /** A delivery that cannot be sent (its endpoint disabled) is recorded as failed. */
  async fail(deliveryId: string): Promise<void> {
    await sql(this.dataSource, `UPDATE webhook_deliveries SET status = 'failed' WHERE id = $1 AND status = 'pending'`, [deliveryId]);
  }
}
