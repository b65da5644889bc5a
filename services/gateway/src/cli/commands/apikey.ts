import { hostname, userInfo } from 'node:os';
import { CommonEnvSchema, loadConfig } from '@roadmap/contracts';
import { createDataSource } from '@roadmap/persistence';
import { Command, Option } from 'commander';
import { ApiKeys, ROLES, type Role } from '../../auth/api-keys.js';
import { CliContext } from '../context.js';
import { CliError, ExitCode } from '../exit-codes.js';
import { table } from '../format.js';

/**
 * `apikey create|revoke|ls`: straight against PostgreSQL (DATABASE_URL, DATABASE_SCHEMA), not the
 * API: the first key has to come from somewhere, and the API never stores or shows a key again.
 */
export function apikeyCommand(): Command {
  const apikey = new Command('apikey').description('create, revoke and list API keys (reads DATABASE_URL and DATABASE_SCHEMA; run `npm run migrate` first)');

  apikey
    .command('create')
    .description('create an API key; the key is printed once, as the last line')
    .requiredOption('--owner <owner>', 'whose tasks the key acts on')
    .addOption(new Option('--role <role>', 'admin reaches /api/v1/admin').choices(ROLES).default('user'))
    .option('--label <text>', 'a note to recognise the key by')
    .option('--priority-high', 'the key may ask for priority high even if its owner is not granted it (a service key)', false)
    .action(async (opts: { owner: string; role: Role; label?: string; priorityHigh: boolean }, command: Command) => {
      const owner = opts.owner.trim();
      if (!owner || owner.length > 200) throw new CliError('--owner must be 1 to 200 characters', ExitCode.usage);
      const ctx = CliContext.of(command);
      await withKeys(async (keys) => {
        const { key, info } = await keys.create(owner, opts.role, opts.label ?? null, cliActor(), opts.priorityHigh);
        // --json: one object with the key, for scripts that store it.
        ctx.print({ ...info, key }, () =>
          [
            `created API key ${info.prefix} (id ${info.id}) for owner "${info.owner}" with role ${info.role}${info.priorityHigh ? ', granted priority high' : ''}`,
            'store it now: it is shown only this once',
            key,
          ].join('\n'),
        );
      });
    });

  apikey
    .command('revoke')
    .description('revoke a key (by the prefix shown by ls, or its id)')
    .argument('<prefix-or-id>')
    .action(async (target: string, _opts: unknown, command: Command) => {
      const ctx = CliContext.of(command);
      await withKeys(async (keys) => {
        const { revoked, matches } = await keys.revoke(target, cliActor());
        if (revoked) {
          ctx.print(revoked, () => `revoked API key ${revoked.prefix} (id ${revoked.id}, owner "${revoked.owner}")`);
          return;
        }
        if (matches.length > 1) throw new CliError(`${matches.length} active keys have prefix ${target}: revoke by id (${matches.map((m) => m.id).join(', ')})`, ExitCode.failed);
        throw new CliError(`no active API key ${target}`, ExitCode.notFound);
      });
    });

  apikey
    .command('ls')
    .description('active keys (--all: revoked ones too)')
    .option('--all', 'include revoked keys', false)
    .action(async (opts: { all: boolean }, command: Command) => {
      const ctx = CliContext.of(command);
      await withKeys(async (keys) => {
        const list = await keys.list({ includeRevoked: opts.all });
        ctx.print(list, () =>
          list.length === 0
            ? 'no API keys'
            : table(
                ['PREFIX', 'ID', 'OWNER', 'ROLE', 'HIGH', 'LABEL', 'CREATED', 'LAST USED', 'REVOKED'],
                list.map((k) => [k.prefix, k.id, k.owner, k.role, k.priorityHigh ? 'yes' : '', k.label, k.createdAt, k.lastUsedAt, k.revokedAt]),
              ),
        );
      });
    });

  return apikey;
}

async function withKeys(run: (keys: ApiKeys) => Promise<void>): Promise<void> {
  const config = loadConfig(CommonEnvSchema);
  const dataSource = createDataSource({
    url: config.DATABASE_URL,
    schema: config.DATABASE_SCHEMA,
    poolSize: 1,
    applicationName: 'roadmap-cli',
    ssl: config.DATABASE_SSL,
  });
  try {
    await dataSource.initialize();
  } catch (error) {
    throw new CliError(`cannot reach PostgreSQL: ${error instanceof Error ? error.message : String(error)}`, ExitCode.unavailable);
  }
  try {
    await run(new ApiKeys(dataSource));
  } finally {
    await dataSource.destroy();
  }
}

/** Who ran the CLI, for the audit trail: there is no principal on this path (it is how the first key is made). */
function cliActor(): string {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry (a container running as an arbitrary uid): the host still says where.
  }
  return `cli:${user}@${hostname()}`;
}
