import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Webhooks (Standard Webhooks):
 * - `webhooks`: an owner's endpoint, the events it subscribes to, its signing secret (`whsec_…`), and
 *   whether it is enabled; `failing_since` is set by the first failed delivery after a success and
 *   cleared by the next success: an endpoint failing for 24 h is disabled with `disabled_reason`.
 * - `webhook_deliveries`: one row per (webhook, event): the payload as sent every time (its `id` is
 *   the `webhook-id` header, so a receiver deduplicates retries on it), its state and next attempt.
 *   Unique (webhook_id, event_key): an event redelivered by NATS becomes one delivery. Retries stop
 *   24 h after `retry_from` (set again by a redelivery).
 * - `webhook_attempts`: every attempt with its HTTP status (or error) and latency.
 */
export class Webhooks1765350000417 implements MigrationInterface {
  name = 'Webhooks1765350000417';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE webhooks (
        id uuid PRIMARY KEY,
        owner text NOT NULL,
        url text NOT NULL,
        description text,
        events text[] NOT NULL,
        secret text NOT NULL,
        enabled boolean NOT NULL DEFAULT true,
        disabled_reason text,
        failing_since timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX webhooks_owner_idx ON webhooks (owner, created_at)`);
    await q.query(`
      CREATE TABLE webhook_deliveries (
        id uuid PRIMARY KEY,
        webhook_id uuid NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
        event_key text NOT NULL,
        event_type text NOT NULL,
        task_id uuid,
        payload jsonb NOT NULL,
        status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
        attempts int NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL DEFAULT now(),
        retry_from timestamptz NOT NULL DEFAULT now(),
        last_attempt_at timestamptz,
        delivered_at timestamptz,
        UNIQUE (webhook_id, event_key)
      )`);
    await q.query(`CREATE INDEX webhook_deliveries_webhook_idx ON webhook_deliveries (webhook_id, created_at DESC)`);
    await q.query(`CREATE INDEX webhook_deliveries_pending_idx ON webhook_deliveries (created_at) WHERE status = 'pending'`);
    await q.query(`
      CREATE TABLE webhook_attempts (
        id bigserial PRIMARY KEY,
        delivery_id uuid NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
        attempted_at timestamptz NOT NULL DEFAULT now(),
        status_code int,
        error text,
        latency_ms int NOT NULL
      )`);
    await q.query(`CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (delivery_id, attempted_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE webhook_attempts`);
    await q.query(`DROP TABLE webhook_deliveries`);
    await q.query(`DROP TABLE webhooks`);
  }
}
