import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A task's `callbackUrl` is a webhook of its own: a `webhooks` row with `task_id` set (and `id` equal
 * to it), subscribed to the task's review wait and end, so its deliveries take the registered
 * endpoints' path (fan-out, WEBHOOKS stream, retries, attempts). It has no secret: it is signed with
 * the owner's default one (their oldest registered webhook's) when sent. Removed with its task.
 */
export class TaskCallbacks1765550000000 implements MigrationInterface {
  name = 'TaskCallbacks1765550000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE webhooks ADD COLUMN task_id uuid REFERENCES tasks (id) ON DELETE CASCADE`);
    await q.query(`ALTER TABLE webhooks ALTER COLUMN secret DROP NOT NULL`);
    await q.query(`ALTER TABLE webhooks ADD CONSTRAINT webhooks_secret_or_task CHECK ((task_id IS NULL) = (secret IS NOT NULL))`);
    await q.query(`CREATE UNIQUE INDEX webhooks_task_idx ON webhooks (task_id) WHERE task_id IS NOT NULL`);
    // Registered endpoints are what an owner's lookups (list, default secret, fan-out) read.
    await q.query(`DROP INDEX webhooks_owner_idx`);
    await q.query(`CREATE INDEX webhooks_owner_idx ON webhooks (owner, created_at, id) WHERE task_id IS NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DELETE FROM webhooks WHERE task_id IS NOT NULL`);
    await q.query(`DROP INDEX webhooks_owner_idx`);
    await q.query(`CREATE INDEX webhooks_owner_idx ON webhooks (owner, created_at)`);
    await q.query(`DROP INDEX webhooks_task_idx`);
    await q.query(`ALTER TABLE webhooks DROP CONSTRAINT webhooks_secret_or_task`);
    await q.query(`ALTER TABLE webhooks ALTER COLUMN secret SET NOT NULL`);
    await q.query(`ALTER TABLE webhooks DROP COLUMN task_id`);
  }
}
