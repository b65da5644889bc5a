import { Inject, Injectable } from '@nestjs/common';
import { WEBHOOK_RETRY_WINDOW_MS } from '@roadmap/contracts';
import { sql } from '@roadmap/persistence';
import { DataSource } from 'typeorm';

/** A delivery with what sending it needs. */
export interface PendingDelivery {
  id: string;
  status: 'pending' | 'delivered' | 'failed';
  /** The payload as sent, JSON text (read as text: it is sent as is, never looked into). */
  body: string;
  /** When its event happened (the payload's `timestamp`). */
  event_at: string | null;
  attempts: number;
  retry_from: Date;
  /**
   * Milliseconds since the row was written, and since its last attempt (null before one, or when a
   * redelivery was asked after it), by the database's clock: what says whether a retry is due.
   */
  age_ms: number;
  since_attempt_ms: number | null;
  webhook_id: string;
  url: string;
  /** Null for a task's callback whose owner has no registered webhook any more. */
  secret: string | null;
  enabled: boolean;
}

/**
 * The columns of a {@link PendingDelivery}, from a delivery `d` joined to its webhook `w`. A task's
 * callback has no secret: the owner's default (oldest registered webhook) signs it, as it is now.
 */
const SENDING = `d.id, d.status, d.payload::text AS body, d.payload->>'timestamp' AS event_at, d.attempts, d.retry_from,
       (extract(epoch FROM now() - d.created_at) * 1000)::float8 AS age_ms,
       CASE WHEN d.last_attempt_at > d.retry_from THEN (extract(epoch FROM now() - d.last_attempt_at) * 1000)::float8 END AS since_attempt_ms,
       w.id AS webhook_id, w.url, w.enabled,
       COALESCE(w.secret, (SELECT o.secret FROM webhooks o WHERE o.owner = w.owner AND o.task_id IS NULL ORDER BY o.created_at, o.id LIMIT 1)) AS secret`;

/** One attempt to record: its delivery and endpoint, and how it went. */
export interface Attempt {
  deliveryId: string;
  webhookId: string;
  ok: boolean;
  statusCode: number | null;
  error: string | null;
  latencyMs: number;
  /** A failure after the delivery's 24 h of retries: it is recorded as failed. */
  giveUp: boolean;
}

/** The webhook worker's writes: deliveries (its table), their attempts, and an endpoint's failing streak. */
@Injectable()
export class WebhookRepository {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  /**
   * One delivery per (event, enabled webhook of the task's owner or the task's own callback)
   * subscribed to the event's type (or `*`) and registered before the event happened, for a batch of
   * events in one statement; an event seen again (NATS redelivery) maps to the same rows. Returns the
   * pending ones with what sending them needs (as {@link pending} reads them), so that their first
   * attempt needs no second read.
   */
  async createDeliveries(events: ReadonlyArray<{ taskId: string; type: string; key: string; at: Date; json: unknown }>): Promise<PendingDelivery[]> {
    // A key once per statement: ON CONFLICT DO UPDATE may not touch a row twice.
    const unique = [...new Map(events.map((e) => [e.key, e])).values()];
    const { rows } = await sql<PendingDelivery>(
      this.dataSource,
      `WITH d AS (INSERT INTO webhook_deliveries (id, webhook_id, event_key, event_type, task_id, payload)
       SELECT gen_random_uuid(), w.id, e.key, e.type, t.id,
              jsonb_build_object('type', e.type, 'timestamp', e.json->>'at', 'data',
                                 jsonb_build_object('taskId', t.id, 'taskType', t.type, 'status', t.status, 'event', e.json))
         FROM jsonb_to_recordset($1::jsonb) AS e(task_id uuid, key text, type text, at timestamptz, json jsonb)
         JOIN tasks t ON t.id = e.task_id
         JOIN webhooks w ON (w.owner = t.owner AND w.task_id IS NULL) OR w.task_id = t.id
        WHERE w.enabled AND (e.type = ANY (w.events) OR '*' = ANY (w.events)) AND w.created_at <= e.at
       ON CONFLICT (webhook_id, event_key) DO UPDATE SET event_key = EXCLUDED.event_key
       RETURNING *)
       SELECT ${SENDING} FROM d JOIN webhooks w ON w.id = d.webhook_id WHERE d.status = 'pending'`,
      // One JSON parameter, not five arrays: the driver escapes array elements in JavaScript, slowly.
      [JSON.stringify(unique.map((e) => ({ task_id: e.taskId, key: e.key, type: e.type, at: e.at, json: e.json })))],
    );
    return rows;
  }

  /** Deliveries with what sending them needs, in one read (those deleted with their webhook are absent). */
  async pending(deliveryIds: readonly string[]): Promise<PendingDelivery[]> {
    return (
      await sql<PendingDelivery>(
        this.dataSource,
        `SELECT ${SENDING} FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id WHERE d.id = ANY ($1::uuid[])`,
        [deliveryIds],
      )
    ).rows;
  }

  /**
   * Records attempts and their consequences atomically, many in one statement (data-modifying CTEs
   * commit together): a success delivers and ends its endpoint's failing streak; a failure starts or
   * extends it, disables an endpoint failing for 24 h, and fails the delivery once its 24 h of retries
   * are over (`giveUp`). An endpoint with a success among the batch's attempts counts as not failing.
   */
  async recordAttempts(attempts: readonly Attempt[]): Promise<void> {
    const status = (a: Attempt) => (a.ok ? 'delivered' : a.giveUp ? 'failed' : 'pending');
    await sql(
      this.dataSource,
      `WITH x AS (SELECT * FROM jsonb_to_recordset($1::jsonb)
                           AS x(delivery_id uuid, status_code int, error text, latency_ms int, status text, webhook_id uuid, ok boolean)),
            attempt AS (INSERT INTO webhook_attempts (delivery_id, status_code, error, latency_ms) SELECT delivery_id, status_code, error, latency_ms FROM x),
            delivery AS (UPDATE webhook_deliveries d SET attempts = d.attempts + 1, last_attempt_at = now(), status = x.status,
                                delivered_at = CASE WHEN x.status = 'delivered' THEN now() END
                           FROM x WHERE d.id = x.delivery_id),
            healthy AS (UPDATE webhooks SET failing_since = NULL
                         WHERE id IN (SELECT webhook_id FROM x WHERE ok) AND failing_since IS NOT NULL),
            failing AS (UPDATE webhooks w SET failing_since = COALESCE(failing_since, now()),
                               enabled = CASE WHEN failing_since < now() - make_interval(secs => $2::float8 / 1000) THEN false ELSE enabled END,
                               disabled_reason = CASE WHEN enabled AND failing_since < now() - make_interval(secs => $2::float8 / 1000)
                                                      THEN 'every delivery failed for 24 h: ' ||
                                                           (SELECT COALESCE(f.error, 'HTTP ' || f.status_code) FROM x f WHERE f.webhook_id = w.id LIMIT 1)
                                                      ELSE disabled_reason END,
                               updated_at = now()
                         WHERE id IN (SELECT webhook_id FROM x GROUP BY webhook_id HAVING NOT bool_or(ok)))
       SELECT 1`,
      [
        JSON.stringify(
          attempts.map((a) => ({ delivery_id: a.deliveryId, status_code: a.statusCode, error: a.error, latency_ms: a.latencyMs, status: status(a), webhook_id: a.webhookId, ok: a.ok })),
        ),
        WEBHOOK_RETRY_WINDOW_MS,
      ],
    );
  }

  /** A delivery that cannot be sent (its endpoint disabled) is recorded as failed. */
  async fail(deliveryId: string): Promise<void> {
    await sql(this.dataSource, `UPDATE webhook_deliveries SET status = 'failed' WHERE id = $1 AND status = 'pending'`, [deliveryId]);
  }
}
