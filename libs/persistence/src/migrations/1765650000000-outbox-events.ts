import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The outbox carries task events and cancel notices too (issue 19).
 *
 * - `outbox.core`: the row is a core NATS notice (`control.task.cancelled`, which no stream holds),
 *   published by the relay with a plain publish and a flush instead of a JetStream publish.
 * - `tasks_join_children` also writes the parent's `child.ended` event to the outbox, in the child's
 *   own transaction, whichever code ended it (before, the join listener published it after the
 *   NOTIFY, best effort). Its `Nats-Msg-Id` is `<parent>:child.ended:<child>:<status>:<attempts>`
 *   (a child resumed and ended again is a new event); the row id is a name-based uuid of it, so the
 *   trigger firing again for the same end writes no second row.
 */
export class OutboxEvents1765650000000 implements MigrationInterface {
  name = 'OutboxEvents1765650000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE outbox ADD COLUMN core boolean NOT NULL DEFAULT false`);
    await q.query(joinFunction(true));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(joinFunction(false));
    await q.query(`ALTER TABLE outbox DROP COLUMN core`);
  }
}

/** `tasks_join_children` with (`withEvent`) or without the outbox row of the parent's `child.ended` event. */
function joinFunction(withEvent: boolean): string {
  const event = `
          event_id := concat_ws(':', parent.id, 'child.ended', NEW.id, NEW.status, NEW.attempts);
          INSERT INTO outbox (id, msg_id, task_id, subject, payload)
          VALUES (md5('child.ended:' || event_id)::uuid, event_id, parent.id, 'events.task.' || parent.id,
                  jsonb_build_object('type', 'child.ended', 'taskId', parent.id, 'childId', NEW.id, 'status', NEW.status,
                    'progress', jsonb_build_object('done', parent.progress_done, 'failed', parent.progress_failed, 'total', parent.progress_total),
                    'at', to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')))
          ON CONFLICT (id) DO NOTHING;`;
  return `
      CREATE OR REPLACE FUNCTION tasks_join_children() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE
        done_delta int := (NEW.status = 'completed')::int - (OLD.status = 'completed')::int;
        failed_delta int := (NEW.status IN ('failed', 'cancelled'))::int - (OLD.status IN ('failed', 'cancelled'))::int;
        parent record;
        event_id text;
      BEGIN
        IF done_delta = 0 AND failed_delta = 0 THEN RETURN NEW; END IF;
        UPDATE tasks SET progress_done = progress_done + done_delta, progress_failed = progress_failed + failed_delta, updated_at = now()
         WHERE id = NEW.parent_id
         RETURNING id, status, progress_done, progress_failed, progress_total INTO parent;
        -- Every child that ends is announced (a progress event); the parent's join follows the last.
        IF parent.id IS NOT NULL AND NEW.status IN ('completed', 'failed', 'cancelled') THEN
          ${withEvent ? event : ''}
          PERFORM pg_notify('roadmap_task_joined', concat_ws(':', TG_TABLE_SCHEMA, parent.id, NEW.id, NEW.status,
                            parent.progress_done, parent.progress_failed, parent.progress_total, parent.status));
        END IF;
        RETURN NEW;
      END $$`;
}
