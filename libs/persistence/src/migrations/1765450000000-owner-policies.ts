import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What an admin grants an owner (issue 19): a dispatch weight (fair dispatch gives an owner with
 * weight 3 three turns for another's one) and whether the owner may ask for `high` priority. An owner
 * without a row has weight 1 and no `high`. An API key may be granted `high` on its own
 * (`api_keys.priority_high`), for a service key of an owner that is otherwise not granted it.
 */
export class OwnerPolicies1765450000000 implements MigrationInterface {
  name = 'OwnerPolicies1765450000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE owner_policies (
        owner text PRIMARY KEY,
        weight integer NOT NULL DEFAULT 1 CHECK (weight BETWEEN 1 AND 100),
        priority_high boolean NOT NULL DEFAULT false,
        updated_by text,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`ALTER TABLE api_keys ADD COLUMN priority_high boolean NOT NULL DEFAULT false`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE api_keys DROP COLUMN IF EXISTS priority_high`);
    await q.query(`DROP TABLE IF EXISTS owner_policies`);
  }
}
