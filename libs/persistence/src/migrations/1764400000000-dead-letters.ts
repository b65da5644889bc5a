import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Dead letters, recorded from the DEAD_LETTERS stream for operators: list, inspect, replay. */
export class DeadLetters1764400000000 implements MigrationInterface {
  name = 'DeadLetters1764400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE dead_letters (
        id uuid PRIMARY KEY,
        dlq_sequence bigint NOT NULL UNIQUE,
        stream text NOT NULL,
        subject text NOT NULL,
        stream_sequence bigint,
        deliveries int,
        reason text NOT NULL,
        headers jsonb NOT NULL,
        payload text NOT NULL,
        task_id uuid,
        created_at timestamptz NOT NULL DEFAULT now(),
        replayed_at timestamptz,
        replay_count int NOT NULL DEFAULT 0
      )`);
    await q.query(`CREATE INDEX dead_letters_created_idx ON dead_letters (created_at DESC, id DESC)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS dead_letters`);
  }
}
