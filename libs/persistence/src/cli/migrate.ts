import { CommonEnvSchema, ConfigError, loadConfig } from '@roadmap/contracts';
import { migrate } from '../data-source.js';

/** `npm run migrate`: applies pending migrations to DATABASE_URL / DATABASE_SCHEMA. */
async function main(): Promise<void> {
  const config = loadConfig(CommonEnvSchema);
  const applied = await migrate({
    url: config.DATABASE_URL,
    schema: config.DATABASE_SCHEMA,
    poolSize: 1,
    applicationName: 'roadmap-migrate',
    ssl: config.DATABASE_SSL,
  });
  console.log(applied.length ? `migrate: applied ${applied.join(', ')}` : 'migrate: schema is up to date');
}

main().catch((error: unknown) => {
  console.error(error instanceof ConfigError ? error.message : `migrate failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
