import { DataSource, type DataSourceOptions } from 'typeorm';
import { ENTITIES } from './entities/index.js';
import { MIGRATIONS } from './migrations/index.js';

export interface DatabaseConfig {
  /** postgres:// URL. */
  readonly url: string;
  /** Schema the platform's tables live in; every connection's search_path points at it. */
  readonly schema: string;
  readonly poolSize: number;
  /** Shown in pg_stat_activity. */
  readonly applicationName: string;
  /** TLS to PostgreSQL: `disable`, or `require` (encrypted) / `verify-full` (encrypted and verified). */
  readonly ssl?: 'disable' | 'require' | 'verify-full';
}

/** TypeORM options for the platform's database. Never `synchronize`: the schema comes from migrations. */
export function dataSourceOptions(config: DatabaseConfig): DataSourceOptions {
  return {
    type: 'postgres',
    url: config.url,
    schema: config.schema,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTableName: 'typeorm_migrations',
    synchronize: false,
    migrationsRun: false,
    applicationName: config.applicationName,
    ssl:
      config.ssl === 'verify-full' ? { rejectUnauthorized: true } : config.ssl === 'require' ? { rejectUnauthorized: false } : undefined,
    extra: {
      max: config.poolSize,
      // Unqualified SQL (raw queries, migrations) resolves to the configured schema.
      options: `-c search_path=${config.schema}`,
      connectionTimeoutMillis: 5_000,
      idleTimeoutMillis: 30_000,
    },
  };
}

export function createDataSource(config: DatabaseConfig): DataSource {
  return new DataSource(dataSourceOptions(config));
}

/**
 * Creates the schema when missing and runs pending migrations, under an advisory lock so that
 * several processes starting at once (replicas, a Helm Job racing `npm start`) migrate once.
 */
export async function migrate(config: DatabaseConfig): Promise<string[]> {
  await createDatabaseIfMissing(config);
  const dataSource = createDataSource({ ...config, poolSize: 2 });
  await dataSource.initialize();
  try {
    const runner = dataSource.createQueryRunner();
    await runner.connect();
    try {
      await runner.query('SELECT pg_advisory_lock(hashtext($1))', [`roadmap-migrate:${config.schema}`]);
      await runner.query(`CREATE SCHEMA IF NOT EXISTS "${config.schema}"`);
      const applied = await dataSource.runMigrations({ transaction: 'each' });
      return applied.map((m) => m.name);
    } finally {
      await runner.query('SELECT pg_advisory_unlock(hashtext($1))', [`roadmap-migrate:${config.schema}`]);
      await runner.release();
    }
  } finally {
    await dataSource.destroy();
  }
}

/** Creates the URL's database when it does not exist yet (a fresh local install). */
async function createDatabaseIfMissing(config: DatabaseConfig): Promise<void> {
  const probe = createDataSource({ ...config, poolSize: 1 });
  try {
    await probe.initialize();
    await probe.destroy();
    return;
  } catch (error) {
    if ((error as { code?: string }).code !== '3D000') throw error; // 3D000: invalid_catalog_name
  }
  const url = new URL(config.url);
  const name = decodeURIComponent(url.pathname.slice(1));
  if (!/^[A-Za-z_][A-Za-z0-9_-]{0,62}$/.test(name)) throw new Error(`database name "${name}" is not one this tool creates`);
  url.pathname = '/postgres';
  const admin = createDataSource({ ...config, url: url.toString(), schema: 'public', poolSize: 1 });
  await admin.initialize();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.destroy();
  }
}
