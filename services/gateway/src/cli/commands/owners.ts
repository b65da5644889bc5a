import type { components } from '@roadmap/client';
import { Command, InvalidArgumentError } from 'commander';
import { CliContext } from '../context.js';
import { fields, table } from '../format.js';
import { intOption } from '../options.js';

type OwnerPolicy = components['schemas']['OwnerPolicy'];

const booleanOption = (value: string): boolean => {
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw new InvalidArgumentError('must be true or false');
};

const show = (p: OwnerPolicy) =>
  fields([
    ['owner', p.owner],
    ['weight', p.weight],
    ['priority high', p.priorityHigh ? 'granted' : 'no'],
    ['updated by', p.updatedBy],
    ['updated at', p.updatedAt],
  ]);

/** `owners policy get|set|ls`: what admins grant owners (dispatch weight, high priority), through the admin API. */
export function ownersCommand(): Command {
  const owners = new Command('owners').description("owners' policies: dispatch weight and the high-priority grant (admin)");
  const policy = owners.command('policy').description("read and set an owner's policy");

  policy
    .command('get')
    .description("an owner's policy (weight 1 and no high priority for an owner never set)")
    .argument('<owner>')
    .action(async (owner: string, _opts: unknown, command: Command) => {
      const ctx = CliContext.of(command);
      const res = await ctx.api.call(ctx.api.client.GET('/api/v1/admin/owners/{owner}/policy', { params: { path: { owner } } }));
      ctx.print(res, () => show(res));
    });

  policy
    .command('set')
    .description("set an owner's dispatch weight and/or high-priority grant (what is left out is kept); audited")
    .argument('<owner>')
    .option('--weight <n>', 'dispatch weight, 1 to 100 (3: three turns for another owner’s one)', intOption(1, 100))
    .option('--priority-high <true|false>', 'may the owner ask for priority high', booleanOption)
    .action(async (owner: string, opts: { weight?: number; priorityHigh?: boolean }, command: Command) => {
      const ctx = CliContext.of(command);
      const res = await ctx.api.call(
        ctx.api.client.PUT('/api/v1/admin/owners/{owner}/policy', { params: { path: { owner } }, body: { weight: opts.weight, priorityHigh: opts.priorityHigh } }),
      );
      ctx.print(res, () => show(res));
    });

  policy
    .command('ls')
    .description('owners with a policy set, by name')
    .option('--limit <n>', 'owners per page', intOption(1, 500), 100)
    .option('--cursor <cursor>', 'the next page (nextCursor of the previous one)')
    .action(async (opts: { limit: number; cursor?: string }, command: Command) => {
      const ctx = CliContext.of(command);
      const res = await ctx.api.call(ctx.api.client.GET('/api/v1/admin/owners/policies', { params: { query: { limit: opts.limit, cursor: opts.cursor } } }));
      ctx.print(res, () =>
        [
          res.items.length === 0 ? 'no owner policies set' : table(['OWNER', 'WEIGHT', 'PRIORITY HIGH', 'UPDATED BY', 'UPDATED AT'], res.items.map((p) => [p.owner, p.weight, p.priorityHigh ? 'granted' : 'no', p.updatedBy, p.updatedAt])),
          ...(res.nextCursor ? [`next page: --cursor ${res.nextCursor}`] : []),
        ].join('\n'),
      );
    });

  return owners;
}
