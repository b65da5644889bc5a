import { readFileSync } from 'node:fs';
import { PRIORITIES, REVIEW_MODES, type Priority, type ReviewMode } from '@roadmap/contracts';
import type { TaskDetail } from '@roadmap/client';
import { Command, Option } from 'commander';
import { CliContext } from '../context.js';
import { CliError, ExitCode } from '../exit-codes.js';
import { fields, table } from '../format.js';
import { intOption } from '../options.js';

/** `--input` as JSON text, or `@path` for a JSON file. */
function parseInput(value: string): unknown {
  const text = value.startsWith('@') ? readFileSync(value.slice(1), 'utf8') : value;
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new CliError(`--input is not JSON: ${(error as Error).message}`, ExitCode.usage);
  }
}

/** `tasks create|result|types|signal`: the unified task API, for every task type. */
export function addTaskApiCommands(tasks: Command): void {
  tasks
    .command('create')
    .description('create a task of any type (see `tasks types`); prints its id')
    .requiredOption('--type <type>', 'the task type, e.g. roadmap.batch')
    .requiredOption('--input <json>', 'the input as JSON, or @file.json')
    .addOption(new Option('--priority <priority>', 'queue priority').choices(PRIORITIES).default('normal'))
    .addOption(new Option('--review <mode>', 'whether a person reviews (roadmap.generate)').choices(REVIEW_MODES))
    .option('--idempotency-key <key>', 'the same key within 24 h returns the first task')
    .action(async (opts: { type: string; input: string; priority: Priority; review?: ReviewMode; idempotencyKey?: string }, command: Command) => {
      const ctx = CliContext.of(command);
      const body = { type: opts.type, input: parseInput(opts.input), priority: opts.priority, ...(opts.review && { review: opts.review }) };
      const accepted = await ctx.api.call(
        ctx.api.client.POST('/api/v1/tasks', { body, params: { header: opts.idempotencyKey ? { 'Idempotency-Key': opts.idempotencyKey } : {} } }),
      );
      ctx.print(accepted, () => `task ${accepted.taskId} (${accepted.type}) is ${accepted.status}`);
    });

  tasks
    .command('result')
    .description('a completed task\'s result (exit 1 with its status when it has not completed)')
    .argument('<id>', 'task id')
    .option('--wait <seconds>', 'wait up to this long for the task to end (at most 60)', intOption(0, 60), 0)
    .action(async (id: string, opts: { wait: number }, command: Command) => {
      const ctx = CliContext.of(command);
      const answer = await ctx.api.call(ctx.api.client.GET('/api/v1/tasks/{id}/result', { params: { path: { id }, query: { wait: opts.wait || undefined } } }));
      ctx.print(answer, () => JSON.stringify(answer.result, null, 2));
    });

  tasks
    .command('signal')
    .description('send the signal a waiting task asks for, with its payload')
    .argument('<id>', 'task id')
    .argument('<name>', 'the signal, e.g. approve')
    .option('--payload <json>', 'the payload as JSON, or @file.json', '{}')
    .action(async (id: string, name: string, opts: { payload: string }, command: Command) => {
      const ctx = CliContext.of(command);
      const answer = await ctx.api.call(
        ctx.api.client.POST('/api/v1/tasks/{id}/signals/{name}', { params: { path: { id, name } }, body: { payload: parseInput(opts.payload) } }),
      );
      ctx.print(answer, () => `task ${answer.taskId} got ${answer.signal}; it is ${answer.status}`);
    });

  tasks
    .command('types')
    .description('the task types this platform runs, with their versions')
    .action(async (_opts: unknown, command: Command) => {
      const ctx = CliContext.of(command);
      const types = await ctx.api.call(ctx.api.client.GET('/api/v1/task-types'));
      ctx.print(types, () => table(['TYPE', 'VERSION', 'SIGNALS', 'DESCRIPTION'], types.items.map((t) => [t.type, t.version, Object.keys(t.signals).join(',') || '-', t.description])));
    });
}

/** The lines `tasks show` adds for a parent (its children) or a child (its parent). */
export function familyFields(t: Pick<TaskDetail, 'parentId' | 'children'>): string {
  const rows: Array<[string, unknown]> = [];
  if (t.parentId) rows.push(['parent', t.parentId]);
  if (t.children) {
    const { total, ...byStatus } = t.children;
    rows.push(['children', `${total} (${Object.entries(byStatus).filter(([, n]) => n > 0).map(([s, n]) => `${n} ${s}`).join(', ')})`]);
  }
  return rows.length ? fields(rows as never) : '';
}
