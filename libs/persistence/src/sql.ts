import { createHash } from 'node:crypto';
import { QueryFailedError, type DataSource, type EntityManager, type QueryRunner } from 'typeorm';

/** How {@link sql} runs a statement. */
export interface SqlOptions {
  /**
   * Prepare it once per connection (a named statement: PostgreSQL parses it once and, after a few
   * executions, keeps a generic plan), for hot statements whose text never changes (an admission,
   * a release): parsing and planning them cost more than running them. Behind PgBouncer this needs
   * its protocol-level prepared statements (1.21+, `max_prepared_statements`).
   */
  readonly prepare?: boolean;
}

/**
 * Runs one SQL statement and returns its rows and affected count the same way for every command
 * (TypeORM's plain `query()` returns `[rows, count]` for UPDATE/DELETE but bare rows for SELECT/INSERT).
 * On an EntityManager inside a transaction it uses that transaction's connection.
 */
export async function sql<T = Record<string, unknown>>(
  on: DataSource | EntityManager,
  text: string,
  params: unknown[] = [],
  options: SqlOptions = {},
): Promise<{ rows: T[]; count: number }> {
  const transactional: QueryRunner | undefined = 'queryRunner' in on ? on.queryRunner : undefined;
  const runner = transactional ?? ('createQueryRunner' in on ? on.createQueryRunner() : on.connection.createQueryRunner());
  try {
    if (options.prepare) return await prepared<T>(runner, text, params);
    const result = await runner.query(text, params, true);
    const rows = (result.records ?? []) as T[];
    return { rows, count: result.affected ?? rows.length };
  } finally {
    if (!transactional) await runner.release();
  }
}

/** The pg client under TypeORM's query runner, as far as a named statement needs it. */
interface PgClient {
  query(config: { name: string; text: string; values: unknown[] }): Promise<{ rows: unknown[]; rowCount: number | null }>;
}

const statementNames = new Map<string, string>();

/** A named statement on the runner's connection (named by its text's hash: one name, one text); errors as TypeORM's. */
async function prepared<T>(runner: QueryRunner, text: string, params: unknown[]): Promise<{ rows: T[]; count: number }> {
  let name = statementNames.get(text);
  if (!name) {
    name = `rm_${createHash('sha1').update(text).digest('hex').slice(0, 24)}`;
    if (statementNames.size < 1_000) statementNames.set(text, name);
  }
  const client = (await runner.connect()) as PgClient;
  try {
    const raw = await client.query({ name, text, values: params });
    return { rows: raw.rows as T[], count: raw.rowCount ?? raw.rows.length };
  } catch (error) {
    throw new QueryFailedError(text, params, error as Error);
  }
}

/**
 * The positional parameters of one statement built from parts (a data-modifying `WITH` whose
 * sub-statements come from different owners): each part adds its values and writes the placeholder
 * `add` returns, so parts compose without counting each other's parameters.
 */
export class SqlParams {
  readonly values: unknown[] = [];

  /** Adds a value; returns its placeholder (`$n`, with `::cast` when given). */
  add(value: unknown, cast?: string): string {
    this.values.push(value);
    return `$${this.values.length}${cast ? `::${cast}` : ''}`;
  }
}

/** `WHERE <column> IN (SELECT id FROM <cte>)` when a part only applies to the rows a sibling sub-statement returned. */
export function onlyIn(column: string, cte?: string): string {
  return cte ? ` WHERE ${column} IN (SELECT id FROM ${cte})` : '';
}
