import type { BuiltinSchedule, operations, Schedule, ScheduleRun, BuiltinScheduleRun } from '@roadmap/client';
import { PRIORITIES, REVIEW_MODES } from '@roadmap/contracts';
import { CATCHUP_POLICIES, OVERLAP_POLICIES } from '@roadmap/workflow';
import { Command, InvalidArgumentError, Option } from 'commander';
import { CliContext } from '../context.js';
import { ago, fields, table } from '../format.js';
import { intOption } from '../options.js';

/*
 * `schedules list|show|create|update|delete|pause|resume|runs` on top of the admin API: cron schedules
 * that start tasks of any type with a fixed input (and, listed read-only, the maintenance jobs).
 * --json prints the API's JSON; exit codes as every command (2 for INVALID_CRON and other 400s,
 * 3 for an unknown schedule, 1 for a 409 such as editing a built-in job).
 */

type CreateBody = operations['createSchedule']['requestBody']['content']['application/json'];
type UpdateBody = operations['updateSchedule']['requestBody']['content']['application/json'];
interface ScheduleOptions {
  name?: string;
  cron?: string;
  timezone?: string;
  type?: string;
  input?: unknown;
  owner?: string;
  priority?: CreateBody['priority'];
  review?: CreateBody['review'];
  overlap?: CreateBody['overlap'];
  catchup?: CreateBody['catchup'];
  paused?: boolean;
}

function jsonValue(value: string): unknown {
  try {
    return JSON.parse(value);
  } catch {
    throw new InvalidArgumentError('must be JSON, e.g. \'{"goal":"Learn Go"}\'');
  }
}

/** The options of create and update; create requires the four that define a schedule. */
function scheduleOptions(command: Command, required: boolean): Command {
  const opt = (flags: string, text: string) => (required ? command.requiredOption(flags, text) : command.option(flags, text));
  opt('--name <name>', 'a unique name');
  opt('--cron <expr>', "cron expression: 5 fields, or 6 with seconds first ('0 3 * * *', '*/10 * * * * *')");
  opt('--type <type>', 'task type (GET /api/v1/task-types)');
  command.addOption(new Option('--input <json>', "the task's fixed input, JSON").argParser(jsonValue).makeOptionMandatory(required));
  return command
    .option('--timezone <tz>', 'IANA time zone the cron is read in (default UTC)')
    .option('--owner <owner>', 'whom the tasks run as (default: you)')
    .addOption(new Option('--priority <priority>', 'task priority (default normal)').choices(PRIORITIES))
    .addOption(new Option('--review <mode>', 'roadmap review (default skip)').choices(REVIEW_MODES))
    .addOption(new Option('--overlap <policy>', 'while the previous task runs: skip, queue (one waits) or allow (default skip)').choices(OVERLAP_POLICIES))
    .addOption(new Option('--catchup <policy>', 'after downtime: none, or run the latest missed occurrence (default none)').choices(CATCHUP_POLICIES));
}

function bodyOf(opts: ScheduleOptions) {
  const { name, cron, timezone, type, input, owner, priority, review, overlap, catchup } = opts;
  const body = { name, cron, timezone, type, input, owner, priority, review, overlap, catchup };
  return Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined));
}

function summary(s: Schedule | BuiltinSchedule): string[] {
  if (s.builtin) return [s.id, s.name, `every ${s.intervalSeconds ?? '?'} s`, '(maintenance)', s.paused ? 'paused' : 'active', s.nextRuns[0] ?? '-', s.lastRunAt ? `${s.lastOutcome} ${ago(s.lastRunAt)}` : '-'];
  const last = s.lastRun ? `${s.lastRun.outcome} ${ago(s.lastRun.firedAt)}` : '-';
  return [s.id, s.name, `${s.cron} ${s.timezone}`, s.type, s.paused ? `paused by ${s.pausedBy}` : 'active', s.nextRuns[0] ?? '-', last];
}

function details(s: Schedule | BuiltinSchedule): string {
  if (s.builtin) return fields([['id', s.id], ['name', s.name], ['builtin', 'yes (read-only)'], ['interval', `${s.intervalSeconds ?? '?'} s`], ['last run', s.lastRunAt ? `${s.lastRunAt} (${s.lastOutcome})` : null], ['next run', s.nextRuns[0]]]);
  return fields([
    ['id', s.id],
    ['name', s.name],
    ['cron', `${s.cron} (${s.timezone})`],
    ['type', s.type],
    ['input', JSON.stringify(s.input)],
    ['owner', s.owner],
    ['priority', s.priority],
    ['overlap', s.overlap],
    ['catchup', s.catchup],
    ['state', s.paused ? `paused by ${s.pausedBy} at ${s.pausedAt}` : 'active'],
    ['next runs', s.nextRuns.join(', ')],
    ['last run', s.lastRun ? `${s.lastRun.occurrenceAt} ${s.lastRun.outcome}${s.lastRun.taskId ? ` task ${s.lastRun.taskId}` : ''}` : null],
  ]);
}

const HEADERS = ['ID', 'NAME', 'WHEN', 'TYPE', 'STATE', 'NEXT RUN', 'LAST RUN'];

export function schedulesCommand(): Command {
  const schedules = new Command('schedules').description('cron schedules that start tasks (admin), with the maintenance jobs read-only');
  schedules
    .command('list')
    .description('every schedule with its next and last run, then the built-in maintenance jobs')
    .action(async (_opts: unknown, command: Command) => {
      const ctx = CliContext.of(command);
      const res = await ctx.api.call(ctx.api.client.GET('/api/v1/admin/schedules'));
      ctx.print(res, () => table(HEADERS, res.items.map(summary)));
    });
  schedules
    .command('show')
    .description('one schedule with its next five runs (in its time zone)')
    .argument('<id>', 'schedule id, or builtin:<job>')
    .action(async (id: string, _opts: unknown, command: Command) => {
      const ctx = CliContext.of(command);
      const res = await ctx.api.call(ctx.api.client.GET('/api/v1/admin/schedules/{id}', { params: { path: { id } } }));
      ctx.print(res, () => details(res));
    });
  scheduleOptions(schedules.command('create').description('create a schedule'), true)
    .option('--paused', 'create it paused', false)
    .action(async (opts: ScheduleOptions, command: Command) => {
      const ctx = CliContext.of(command);
      const body = { ...bodyOf(opts), paused: opts.paused } as CreateBody;
      const res = await ctx.api.call(ctx.api.client.POST('/api/v1/admin/schedules', { body }));
      ctx.print(res, () => `schedule ${res.id} (${res.name}) created; next runs:\n  ${res.nextRuns.join('\n  ')}`);
    });
  scheduleOptions(schedules.command('update').description('change a schedule (only the options given)').argument('<id>', 'schedule id'), false).action(
    async (id: string, opts: ScheduleOptions, command: Command) => {
      const ctx = CliContext.of(command);
      const res = await ctx.api.call(ctx.api.client.PATCH('/api/v1/admin/schedules/{id}', { params: { path: { id } }, body: bodyOf(opts) as UpdateBody }));
      ctx.print(res, () => details(res));
    },
  );
  schedules
    .command('delete')
    .description('delete a schedule and its run history (the tasks it started stay)')
    .argument('<id>', 'schedule id')
    .action(async (id: string, _opts: unknown, command: Command) => {
      const ctx = CliContext.of(command);
      const res = await ctx.api.call(ctx.api.client.DELETE('/api/v1/admin/schedules/{id}', { params: { path: { id } } }));
      ctx.print(res, () => `schedule ${res.id} (${res.name}) deleted`);
    });
  for (const verb of ['pause', 'resume'] as const) {
    schedules
      .command(verb)
      .description(verb === 'pause' ? 'pause a schedule: nothing fires until it is resumed' : 'resume a schedule (what fell due while paused is not caught up)')
      .argument('<id>', 'schedule id')
      .action(async (id: string, _opts: unknown, command: Command) => {
        const ctx = CliContext.of(command);
        const res = await ctx.api.call(ctx.api.client.POST(`/api/v1/admin/schedules/{id}/${verb}`, { params: { path: { id } } }));
        ctx.print(res, () => `schedule ${res.name} ${res.paused ? `paused by ${res.pausedBy}` : `active; next run ${res.nextRuns[0] ?? '-'}`}`);
      });
  }
  schedules
    .command('runs')
    .description("a schedule's occurrences, newest first: started, skipped, queued or failed (a builtin:<job>: its runs, ok, error, running or abandoned)")
    .argument('<id>', 'schedule id')
    .option('--limit <n>', 'runs per page (1-200)', intOption(1, 200), 50)
    .option('--cursor <cursor>', 'continue after a page (its nextCursor)')
    .action(async (id: string, opts: { limit: number; cursor?: string }, command: Command) => {
      const ctx = CliContext.of(command);
      const res = await ctx.api.call(
        ctx.api.client.GET('/api/v1/admin/schedules/{id}/runs', { params: { path: { id }, query: { limit: opts.limit, cursor: opts.cursor } } }),
      );
      const rows = res.items.map((r: ScheduleRun | BuiltinScheduleRun) => [r.occurrenceAt, r.firedAt, r.outcome, r.taskId, r.error ? `${r.error.code}: ${r.error.message}` : null]);
      ctx.print(res, () => [rows.length ? table(['OCCURRENCE', 'FIRED AT', 'OUTCOME', 'TASK', 'ERROR'], rows) : 'no runs yet', ...(res.nextCursor ? [`more: --cursor ${res.nextCursor}`] : [])].join('\n'));
    });
  return schedules;
}
