import 'reflect-metadata';
import { parseArgs } from 'node:util';
import { CommonEnvSchema, ConfigError, loadConfig } from '@roadmap/contracts';
import { createDataSource } from '@roadmap/persistence';
import { ApiKeys, ROLES, type ApiKeyInfo, type Role } from '../auth/api-keys.js';

const USAGE = `usage: npm run cli -- <command>

  apikey create --owner <owner> [--role user|admin] [--label <text>]
      creates an API key; the key is printed once, as the last line
  apikey revoke <prefix-or-id>
      revokes a key (by the prefix shown by ls, or its id)
  apikey ls [--all] [--json]
      lists active keys (--all: revoked ones too)

Reads DATABASE_URL and DATABASE_SCHEMA (run \`npm run migrate\` first).`;

class UsageError extends Error {}

async function main(argv: string[]): Promise<void> {
  const [group, command, ...rest] = argv;
  if (group === undefined || group === 'help' || group === '--help' || group === '-h') {
    console.log(USAGE);
    return;
  }
  if (group !== 'apikey' || !command) throw new UsageError(`unknown command: ${argv.join(' ')}`);
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      owner: { type: 'string' },
      role: { type: 'string', default: 'user' },
      label: { type: 'string' },
      json: { type: 'boolean', default: false },
      all: { type: 'boolean', default: false },
    },
  });

  const config = loadConfig(CommonEnvSchema);
  const dataSource = createDataSource({
    url: config.DATABASE_URL,
    schema: config.DATABASE_SCHEMA,
    poolSize: 1,
    applicationName: 'roadmap-cli',
    ssl: config.DATABASE_SSL,
  });
  await dataSource.initialize();
  try {
    const keys = new ApiKeys(dataSource);
    switch (command) {
      case 'create': {
        const owner = values.owner?.trim();
        if (!owner || owner.length > 200) throw new UsageError('--owner is required (1 to 200 characters)');
        if (!ROLES.includes(values.role as Role)) throw new UsageError(`--role must be one of ${ROLES.join(', ')}`);
        const { key, info } = await keys.create(owner, values.role as Role, values.label ?? null);
        console.log(`created API key ${info.prefix} (id ${info.id}) for owner "${info.owner}" with role ${info.role}`);
        console.log('store it now: it is shown only this once');
        console.log(key);
        return;
      }
      case 'revoke': {
        const target = positionals[0];
        if (!target) throw new UsageError('apikey revoke needs the key prefix or id');
        const { revoked, matches } = await keys.revoke(target);
        if (revoked) {
          console.log(`revoked API key ${revoked.prefix} (id ${revoked.id}, owner "${revoked.owner}")`);
          return;
        }
        if (matches.length > 1) throw new Error(`${matches.length} active keys have prefix ${target}: revoke by id (${matches.map((m) => m.id).join(', ')})`);
        throw new Error(`no active API key ${target}`);
      }
      case 'ls': {
        const list = await keys.list({ includeRevoked: values.all });
        if (values.json) console.log(JSON.stringify(list, null, 2));
        else console.log(table(list));
        return;
      }
      default:
        throw new UsageError(`unknown command: apikey ${command}`);
    }
  } finally {
    await dataSource.destroy();
  }
}

function table(keys: ApiKeyInfo[]): string {
  if (keys.length === 0) return 'no API keys';
  const rows = [
    ['PREFIX', 'ID', 'OWNER', 'ROLE', 'LABEL', 'CREATED', 'LAST USED', 'REVOKED'],
    ...keys.map((k) => [k.prefix, k.id, k.owner, k.role, k.label ?? '', k.createdAt, k.lastUsedAt ?? '-', k.revokedAt ?? '-']),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  console.error(error instanceof ConfigError ? error.message : `cli: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
