import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `dispatch_queue`: work held in PostgreSQL for fair dispatch (issue 19, owner libs/workflow's
 * `FairDispatcher`). A row is one message of one owner's work in a lane (`workflow`: a task's first
 * command; `content`: a content item of one generation, named by its message) and priority. Held (`released_at` NULL) it
 * waits here; released, its message went to the outbox and the row stays while the work it names is
 * alive, so an owner's in-flight work is counted from rows (a row whose work ended, however it ended,
 * stops counting and is deleted by the next release). `msg_id` is the message's logical key: a
 * repeated fan-out holds nothing twice. The partial indexes serve the release's per-owner scans:
 * held rows in seq order, released rows per lane.
 */
export class FairDispatch1765600000000 implements MigrationInterface {
  name = 'FairDispatch1765600000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE dispatch_queue (
        seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        lane text NOT NULL,
        priority text NOT NULL,
        owner text NOT NULL,
        task_id uuid NOT NULL,
        msg_id text NOT NULL UNIQUE,
        subject text NOT NULL,
        payload jsonb NOT NULL,
        ordered boolean NOT NULL DEFAULT false,
        trace jsonb,
        released_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX dispatch_queue_held ON dispatch_queue (lane, priority, owner, seq) WHERE released_at IS NULL`);
    await q.query(`CREATE INDEX dispatch_queue_released ON dispatch_queue (lane, priority, owner) WHERE released_at IS NOT NULL`);
    await q.query(`CREATE INDEX dispatch_queue_task ON dispatch_queue (task_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS dispatch_queue`);
  }
}
