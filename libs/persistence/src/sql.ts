import type { DataSource, EntityManager, QueryRunner } from 'typeorm';

/**
 * Runs one SQL statement and returns its rows and affected count the same way for every command
 * (TypeORM's plain `query()` returns `[rows, count]` for UPDATE/DELETE but bare rows for SELECT/INSERT).
 * On an EntityManager inside a transaction it uses that transaction's connection.
 */
export async function sql<T = Record<string, unknown>>(
  on: DataSource | EntityManager,
  text: string,
  params: unknown[] = [],
): Promise<{ rows: T[]; count: number }> {
  const transactional: QueryRunner | undefined = 'queryRunner' in on ? on.queryRunner : undefined;
  const runner = transactional ?? ('createQueryRunner' in on ? on.createQueryRunner() : on.connection.createQueryRunner());
  try {
    const result = await runner.query(text, params, true);
    const rows = (result.records ?? []) as T[];
    return { rows, count: result.affected ?? rows.length };
  } finally {
    if (!transactional) await runner.release();
  }
}
