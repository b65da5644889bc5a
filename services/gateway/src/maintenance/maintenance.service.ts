import { Inject, Injectable } from '@nestjs/common';
import { NotFoundError } from '@roadmap/contracts';
import { sql } from '@roadmap/persistence';
import { DataSource } from 'typeorm';
import { MaintenanceScheduler } from './maintenance.scheduler.js';

interface RunRow {
  id: string;
  job: string;
  instance: string;
  started_at: Date;
  finished_at: Date | null;
  outcome: string;
  detail: Record<string, unknown>;
}

/** The run history of the scheduled maintenance jobs, for operators. */
@Injectable()
export class MaintenanceService {
  constructor(
    @Inject(DataSource) private readonly dataSource: DataSource,
    @Inject(MaintenanceScheduler) private readonly scheduler: MaintenanceScheduler,
  ) {}

  /** Per job: its interval, its last success, when it is due next, and its most recent runs, newest first. */
  async list(limit: number, only?: string) {
    const jobs = only ? this.scheduler.jobs.filter((j) => j.name === only) : this.scheduler.jobs;
    if (only && jobs.length === 0) throw new NotFoundError('Maintenance job', only);
    const { rows } = await sql<RunRow>(
      this.dataSource,
      `SELECT r.* FROM unnest($1::text[]) AS j(job)
         CROSS JOIN LATERAL (SELECT id::text, job, instance, started_at, finished_at, outcome, detail FROM maintenance_runs m
                              WHERE m.job = j.job ORDER BY m.started_at DESC LIMIT $2) r`,
      [jobs.map((j) => j.name), limit],
    );
    const { rows: success } = await sql<{ job: string; at: Date | null }>(
      this.dataSource,
      `SELECT j.job, (SELECT finished_at FROM maintenance_runs m WHERE m.job = j.job AND m.outcome = 'ok' ORDER BY started_at DESC LIMIT 1) AS at
         FROM unnest($1::text[]) AS j(job)`,
      [jobs.map((j) => j.name)],
    );
    return {
      jobs: jobs.map((job) => {
        const runs = rows.filter((r) => r.job === job.name);
        const last = runs[0];
        return {
          job: job.name,
          intervalSeconds: job.intervalMs / 1000,
          lastSuccessAt: success.find((s) => s.job === job.name)?.at?.toISOString() ?? null,
          nextDueAt: last ? new Date(last.started_at.getTime() + job.intervalMs).toISOString() : null,
          runs: runs.map((r) => ({
            id: r.id,
            instance: r.instance,
            startedAt: r.started_at.toISOString(),
            finishedAt: r.finished_at?.toISOString() ?? null,
            durationMs: r.finished_at ? r.finished_at.getTime() - r.started_at.getTime() : null,
            outcome: r.outcome,
            detail: r.detail,
          })),
        };
      }),
    };
  }
}
