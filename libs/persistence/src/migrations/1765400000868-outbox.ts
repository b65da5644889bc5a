import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `outbox`: messages a transaction decided, written in that transaction and published after its
 * commit by the relay (libs/workflow/src/outbox, the table's owner). `seq` is the publish order; `id`
 * the row's key (derived from the message's logical key, so a repeated transaction writes no second
 * row); `msg_id` the message's `Nats-Msg-Id` (its logical key, as `workflow-generate:<task>`), so a
 * row published twice (a relay killed mid-batch, two relays racing) is stored once by the stream;
 * `trace` the W3C trace context of the work that wrote it, so the publish continues that trace. The
 * statement-level trigger wakes the relay at commit with the schema's name, so deployments sharing a
 * database ignore each other's notices.
 */
export class Outbox1765400000868 implements MigrationInterface {
  name = 'Outbox1765400000868';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE outbox (
        seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        id uuid NOT NULL UNIQUE,
        msg_id text NOT NULL,
        task_id uuid,
        subject text NOT NULL,
        payload jsonb NOT NULL,
        trace jsonb,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM pg_notify('roadmap_outbox', TG_TABLE_SCHEMA);
        RETURN NULL;
      END $$`);
    await q.query(`CREATE TRIGGER outbox_notify AFTER INSERT ON outbox FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS outbox`);
    await q.query(`DROP FUNCTION IF EXISTS outbox_notify()`);
  }
}
