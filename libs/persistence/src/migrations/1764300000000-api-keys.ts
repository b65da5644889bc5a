import type { MigrationInterface, QueryRunner } from 'typeorm';

/** API keys of the gateway: only a hash of each key is stored, with a short prefix to show and revoke it by. */
export class ApiKeys1764300000000 implements MigrationInterface {
  name = 'ApiKeys1764300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE api_keys (
        id uuid PRIMARY KEY,
        prefix text NOT NULL,
        -- sha256 (hex) of the whole key; the key itself is shown once, when it is created.
        hash text NOT NULL UNIQUE,
        owner text NOT NULL,
        role text NOT NULL CHECK (role IN ('admin', 'user')),
        label text,
        created_at timestamptz NOT NULL DEFAULT now(),
        revoked_at timestamptz,
        last_used_at timestamptz
      )`);
    await q.query(`CREATE INDEX api_keys_prefix_idx ON api_keys (prefix)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS api_keys`);
  }
}
