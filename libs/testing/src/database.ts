import { randomBytes } from 'node:crypto';
import { createDataSource, migrate } from '@roadmap/persistence';
import type { DataSource } from 'typeorm';

/** The PostgreSQL database tests use (trust auth on this machine). */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TestDatabase {
  readonly schema: string;
  readonly dataSource: DataSource;
  /** Another data source on the same schema: a second "process" for race tests. */
  connect(poolSize?: number): Promise<DataSource>;
  /** Closes every data source and drops the schema. */
  drop(): Promise<void>;
}

/**
 * A fresh, migrated schema of the real PostgreSQL for one test file: tests run side by side
 * without seeing each other's rows, and the schema is what the migrations make, not `synchronize`.
 */
export async function createTestDatabase(prefix = 't'): Promise<TestDatabase> {
  const schema = `${prefix}_${randomBytes(6).toString('hex')}`;
  const config = { url: TEST_DATABASE_URL, schema, poolSize: 4, applicationName: `test-${schema}` };
  await migrate(config);
  const opened: DataSource[] = [];
  const connect = async (poolSize = 4) => {
    const dataSource = createDataSource({ ...config, poolSize });
    await dataSource.initialize();
    opened.push(dataSource);
    return dataSource;
  };
  const dataSource = await connect();
  return {
    schema,
    dataSource,
    connect,
    async drop() {
      await dataSource.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await Promise.all(opened.map((d) => d.destroy()));
    },
  };
}
