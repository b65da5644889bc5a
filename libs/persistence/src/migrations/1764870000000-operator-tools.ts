import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Operator tools: a dead letter can be discarded (kept for audit, left out of the default list, no
 * longer replayable), and every service process reports itself in worker_heartbeats (the worker
 * registry: which process consumes which consumer, what it has in flight, when it was last heard of).
 */
export class OperatorTools1764870000000 implements MigrationInterface {
  name = 'OperatorTools1764870000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE dead_letters ADD COLUMN discarded_at timestamptz, ADD COLUMN discarded_by text`);
    await q.query(`
      CREATE TABLE worker_heartbeats (
        id uuid PRIMARY KEY,
        service text NOT NULL,
        instance text NOT NULL,
        host text NOT NULL,
        pid int NOT NULL,
        version text NOT NULL,
        started_at timestamptz NOT NULL,
        heartbeat_at timestamptz NOT NULL DEFAULT now(),
        interval_ms int NOT NULL,
        consumers jsonb NOT NULL DEFAULT '[]'
      )`);
    await q.query(`CREATE INDEX worker_heartbeats_at_idx ON worker_heartbeats (heartbeat_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS worker_heartbeats`);
    await q.query(`ALTER TABLE dead_letters DROP COLUMN IF EXISTS discarded_at, DROP COLUMN IF EXISTS discarded_by`);
  }
}
