import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `maintenance_runs.interval_seconds`: the interval the runner was configured with. The jobs run in
 * the workflow worker while the gateway serves their history (GET /api/v1/admin/maintenance): the
 * gateway learns each job's interval (and when it is due next) from its latest run instead of from a
 * copy of the workers' settings that could differ.
 */
export class MaintenanceIntervals1765200000000 implements MigrationInterface {
  name = 'MaintenanceIntervals1765200000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE maintenance_runs ADD COLUMN interval_seconds double precision`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE maintenance_runs DROP COLUMN IF EXISTS interval_seconds`);
  }
}
