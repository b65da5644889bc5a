import { Inject, Injectable } from '@nestjs/common';
import type { LogEntry } from '@roadmap/contracts';
import { sql } from '@roadmap/persistence';
import { DataSource } from 'typeorm';

/** The only writer of execution_logs. */
@Injectable()
export class LogRepository {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  /**
   * Writes a batch with one statement (unnest of column arrays). An entry already stored (a
   * redelivered batch) is skipped by its key, so redelivery adds no duplicate rows.
   * @returns the number of rows inserted.
   */
  async insertBatch(entries: readonly LogEntry[]): Promise<number> {
    if (entries.length === 0) return 0;
    const { count } = await sql(
      this.dataSource,
      `INSERT INTO execution_logs (id, created_at, task_id, service, instance, level, step, message, data)
       SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::jsonb[])
       ON CONFLICT DO NOTHING`,
      [
        entries.map((e) => e.id),
        entries.map((e) => e.ts),
        entries.map((e) => e.taskId),
        entries.map((e) => e.service),
        entries.map((e) => e.instance),
        entries.map((e) => e.level),
        entries.map((e) => e.step),
        // PostgreSQL text cannot hold NUL; an entry must never be rejected for it.
        entries.map((e) => e.message.replaceAll('\u0000', '')),
        entries.map((e) => (e.data === null ? null : JSON.stringify(e.data).replaceAll('\\u0000', ''))),
      ],
    );
    return count;
  }
}
