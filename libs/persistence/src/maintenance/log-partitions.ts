import type { DataSource, EntityManager } from 'typeorm';
import { sql } from '../sql.js';

/*
 * execution_logs is partitioned by range of created_at (migration 1764900000000-maintenance): one
 * partition per UTC day, named execution_logs_pYYYYMMDD, created ahead of time; a default partition
 * takes rows no partition covers (late or early clocks, a maintenance job that did not run), and the
 * partition that was the table before partitioning covers everything before its day. Retention drops
 * whole partitions (DETACH + DROP: no row-by-row DELETE, no bloat, no vacuum debt).
 */

const PARENT = 'execution_logs';
const DEFAULT_PARTITION = 'execution_logs_default';
const DAY_MS = 24 * 60 * 60 * 1000;
/** DDL waits this long for a lock, then gives up until the next run, so inserts never queue behind it. */
const LOCK_TIMEOUT = '5s';

export interface LogPartition {
  readonly name: string;
  /** Lower bound (inclusive); null for MINVALUE. */
  readonly from: Date | null;
  /** Upper bound (exclusive); null for MAXVALUE. */
  readonly to: Date | null;
  readonly isDefault: boolean;
  /** PostgreSQL's estimate of its rows (pg_class.reltuples; -1 or 0 before the first ANALYZE). */
  readonly estimatedRows: number;
}

/** The partitions of execution_logs with their bounds, oldest first (the default partition last). */
export async function listLogPartitions(on: DataSource | EntityManager): Promise<LogPartition[]> {
  const { rows } = await sql<{ name: string; bound: string; from_at: Date | null; to_at: Date | null; estimated: number }>(
    on,
    `SELECT c.relname AS name, b.bound, c.reltuples::float8 AS estimated,
            substring(b.bound from 'FROM \\(''([^'']*)''\\)')::timestamptz AS from_at,
            substring(b.bound from 'TO \\(''([^'']*)''\\)')::timestamptz AS to_at
       FROM pg_inherits i
       JOIN pg_class c ON c.oid = i.inhrelid
       CROSS JOIN LATERAL (SELECT pg_get_expr(c.relpartbound, c.oid) AS bound) b
      WHERE i.inhparent = $1::regclass`,
    [PARENT],
  );
  return rows
    .map((r) => ({
      name: r.name,
      from: r.from_at,
      to: r.to_at,
      isDefault: r.bound === 'DEFAULT',
      estimatedRows: Math.max(0, Math.round(r.estimated)),
    }))
    .sort((a, b) => (a.isDefault ? 1 : b.isDefault ? -1 : (a.from?.getTime() ?? -Infinity) - (b.from?.getTime() ?? -Infinity)));
}

/** Start of the UTC day of `at`. */
export function utcDayStart(at: Date): Date {
  return new Date(Math.floor(at.getTime() / DAY_MS) * DAY_MS);
}

/** The daily partition's name for the UTC day starting at `day`. */
export function logPartitionName(day: Date): string {
  return `${PARENT}_p${day.toISOString().slice(0, 10).replaceAll('-', '')}`;
}

/**
 * Makes sure a daily partition exists for each UTC day from the day of `from` through `days` days
 * after it; days already covered by a partition (the pre-partitioning one included) are skipped.
 * Returns the partitions created and the rows they took over from the default partition.
 */
export async function ensureLogPartitions(dataSource: DataSource, from: Date, days: number): Promise<{ created: string[]; movedRows: number }> {
  const existing = await listLogPartitions(dataSource);
  const created: string[] = [];
  let movedRows = 0;
  const first = utcDayStart(from);
  for (let i = 0; i <= days; i++) {
    const start = new Date(first.getTime() + i * DAY_MS);
    const end = new Date(start.getTime() + DAY_MS);
    const overlaps = existing.some(
      (p) => !p.isDefault && (p.from === null || p.from < end) && (p.to === null || p.to > start),
    );
    if (overlaps) continue;
    movedRows += await createLogPartition(dataSource, start, end);
    created.push(logPartitionName(start));
  }
  return { created, movedRows };
}

/**
 * Creates the partition [start, end) and attaches it. Rows of that range already in the default
 * partition move into it in the same transaction (PostgreSQL refuses to attach a range the default
 * partition holds rows of); the default partition is locked meanwhile, so no row slips in between.
 * The table is created detached and attached afterwards: ATTACH takes a weaker lock on execution_logs
 * than CREATE ... PARTITION OF, so the log sink's inserts go on.
 * @returns the rows moved from the default partition.
 */
async function createLogPartition(dataSource: DataSource, start: Date, end: Date): Promise<number> {
  const name = logPartitionName(start);
  return dataSource.transaction(async (em) => {
    await em.query(`SET LOCAL lock_timeout = '${LOCK_TIMEOUT}'`);
    await em.query(`LOCK TABLE ${DEFAULT_PARTITION} IN ACCESS EXCLUSIVE MODE`);
    await em.query(`CREATE TABLE ${name} (LIKE ${PARENT} INCLUDING DEFAULTS)`);
    const moved = await sql(
      em,
      `WITH moved AS (DELETE FROM ${DEFAULT_PARTITION} WHERE created_at >= $1 AND created_at < $2 RETURNING *)
       INSERT INTO ${name} SELECT * FROM moved`,
      [start, end],
    );
    await em.query(`ALTER TABLE ${PARENT} ATTACH PARTITION ${name} FOR VALUES FROM ('${start.toISOString()}') TO ('${end.toISOString()}')`);
    return moved.count;
  });
}

/**
 * Retention: drops (DETACH, then DROP) every partition whose rows are all older than `olderThan`,
 * and deletes the default partition's rows older than it. A partition is dropped only once its
 * whole range has expired, so rows are kept between the retention period and one day longer.
 */
export async function dropExpiredLogPartitions(
  dataSource: DataSource,
  olderThan: Date,
): Promise<{ dropped: string[]; droppedRowsEstimate: number; deletedRows: number }> {
  const partitions = await listLogPartitions(dataSource);
  const dropped: string[] = [];
  let droppedRowsEstimate = 0;
  for (const partition of partitions) {
    if (partition.isDefault || partition.to === null || partition.to > olderThan) continue;
    await dataSource.transaction(async (em) => {
      await em.query(`SET LOCAL lock_timeout = '${LOCK_TIMEOUT}'`);
      await em.query(`ALTER TABLE ${PARENT} DETACH PARTITION ${partition.name}`);
      await em.query(`DROP TABLE ${partition.name}`);
    });
    dropped.push(partition.name);
    droppedRowsEstimate += partition.estimatedRows;
  }
  const { count } = await sql(dataSource, `DELETE FROM ${DEFAULT_PARTITION} WHERE created_at < $1`, [olderThan]);
  return { dropped, droppedRowsEstimate, deletedRows: count };
}
