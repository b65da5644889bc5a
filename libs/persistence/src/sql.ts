import type { DataSource, EntityManager } from 'typeorm';

/**
 * Runs one SQL statement and returns its rows and affected count the same way for every command
 * (TypeORM's plain `query()` returns `[rows, count]` for UPDATE/DELETE but bare rows for SELECT/INSERT).
 */
export async function sql<T = Record<string, unknown>>(
  on: DataSource | EntityManager,
  text: string,
  params: unknown[] = [],
): Promise<{ rows: T[]; count: number }> {
  const result = await on.query(text, params, true);
  const rows = (result.records ?? []) as T[];
  return { rows, count: result.affected ?? rows.length };
}
