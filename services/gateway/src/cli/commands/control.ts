import type { BulkDryRun, BulkJob, BulkJobStarted, operations } from '@roadmap/client';
import { PRIORITIES, STREAMS, TASK_STATUSES } from '@roadmap/contracts';
import { Argument, Command, InvalidArgumentError, Option } from 'commander';
import { CliContext } from '../context.js';
import { CliError, ExitCode } from '../exit-codes.js';
import { ago, bytes, duration, fields, table } from '../format.js';
import { intOption } from '../options.js';

/*
 * Admin control commands (issue 20) on top of the HTTP API: `queues pause|resume|purge`,
 * `workers drain|concurrency|inspect`, `tasks bulk`, `dlq bulk`, `audit`. Every one prints JSON with
 * --json and exits with the CLI's codes (2 for a refused request such as a purge without --confirm,
 * 3 for an unknown queue, consumer or worker, 1 for a bulk job with failed items).
 */

const QUEUES = Object.keys(STREAMS);
type Priority = (typeof PRIORITIES)[number];
type TaskBulkBody = operations['bulkTasks']['requestBody']['content']['application/json'];
type DeadLetterBulkBody = operations['bulkDeadLetters']['requestBody']['content']['application/json'];
/** How often `--wait` polls a bulk job. */
const JOB_POLL_MS = 500;

/** Adds `pause`, `resume` and `purge` under `queues`. */
export function addQueueControl(queues: Command): Command {
  const priority = () => new Option('--priority <priority>', 'only this priority’s consumer (default: the whole queue)').choices(PRIORITIES);
  for (const verb of ['pause', 'resume'] as const) {
    queues
      .command(verb)
      .description(verb === 'pause' ? 'pause a queue: workers stop pulling and finish what they hold (durable until resumed)' : 'resume a paused queue')
      .argument('<stream>', `a queue (${QUEUES.join(', ')})`)
      .addOption(priority())
      .action(async (stream: string, opts: { priority?: Priority }, command: Command) => {
        const ctx = CliContext.of(command);
        const res = await ctx.api.call(ctx.api.client.POST(`/api/v1/admin/queues/{stream}/${verb}`, { params: { path: { stream } }, body: { priority: opts.priority } }));
        ctx.print(res, () => table(['CONSUMER', 'PAUSED', 'BY', 'SINCE'], res.consumers.map((c) => [c.consumer, c.paused ? 'yes' : 'no', c.pausedBy, c.pausedAt])));
      });
  }
  queues
    .command('purge')
    .description("drop a queue's messages and cancel their tasks (PURGED); without --confirm it only counts them")
    .argument('<stream>', `a queue (${QUEUES.join(', ')})`)
    .addOption(priority())
    .option('--confirm', 'really purge (otherwise a dry run)', false)
    .action(async (stream: string, opts: { priority?: Priority; confirm: boolean }, command: Command) => {
      const ctx = CliContext.of(command);
      const res = await ctx.api.call(
        ctx.api.client.POST('/api/v1/admin/queues/{stream}/purge', { params: { path: { stream } }, body: { priority: opts.priority, dryRun: !opts.confirm, confirm: opts.confirm } }),
      );
      ctx.print(res, () =>
        res.dryRun
          ? `${res.messages} messages of ${res.tasks} tasks would be purged from ${stream}${res.priority ? ` (${res.priority})` : ''}; run again with --confirm`
          : `purged ${res.purged} messages from ${stream}; ${res.cancelled} tasks cancelled (PURGED)`,
      );
    });
  return queues;
}

/** Adds `drain`, `concurrency` and `inspect active|registered|stats` under `workers`. */
export function addWorkerControl(workers: Command): Command {
  workers
    .command('drain')
    .description('drain a worker process: it stops pulling, finishes its in-flight work and exits 0')
    .argument('<id>', 'worker id (`workers --json` shows them)')
    .action(async (id: string, _opts: unknown, command: Command) => {
      const ctx = CliContext.of(command);
      const res = await ctx.api.call(ctx.api.client.POST('/api/v1/admin/workers/{id}/drain', { params: { path: { id } } }));
      ctx.print(res, () => `worker ${res.workerId} (${res.service} ${res.instance}) is draining`);
    });

  workers
    .command('concurrency')
    .description("set a consumer's handler slots at runtime, on every worker or one; `default` goes back to the configured value")
    .argument('<consumer>', 'consumer name (content-worker-normal, ...)')
    .argument('<slots>', 'slots (1-1024) or `default`', (value: string) => {
      if (value === 'default') return null;
      return intOption(1, 1024)(value);
    })
    .option('--worker <id>', 'only this worker process')
    .action(async (consumer: string, slots: number | null, opts: { worker?: string }, command: Command) => {
      const ctx = CliContext.of(command);
      const res = await ctx.api.call(
        ctx.api.client.PUT('/api/v1/admin/consumers/{consumer}/concurrency', { params: { path: { consumer } }, body: { concurrency: slots, workerId: opts.worker } }),
      );
      ctx.print(res, () => `${consumer}: ${res.concurrency ?? 'configured'} slots on ${res.workerId ? `worker ${res.workerId}` : 'every worker'}`);
    });

  const inspect = workers.command('inspect').description('like `celery inspect`: active, registered, stats');
  inspect
    .command('active')
    .description('what each worker runs now, since when, and for which task')
    .action(async (_opts: unknown, command: Command) => {
      const ctx = CliContext.of(command);
      const res = await ctx.api.call(ctx.api.client.GET('/api/v1/admin/workers/active'));
      const rows = res.items.flatMap((w) => w.active.map((a) => [w.service, `${w.host}:${w.pid}`, a.consumer, a.taskId, a.subject, a.deliveryCount, ago(a.startedAt)]));
      ctx.print(res, () => (rows.length === 0 ? 'nothing running' : table(['SERVICE', 'HOST:PID', 'CONSUMER', 'TASK', 'SUBJECT', 'DELIVERY', 'SINCE'], rows)));
    });
  inspect
    .command('registered')
    .description('the consumers each worker serves, with slots, pause state and version')
    .action(async (_opts: unknown, command: Command) => {
      const ctx = CliContext.of(command);
      const res = await ctx.api.call(ctx.api.client.GET('/api/v1/admin/workers/registered'));
      const rows = res.items.flatMap((w) =>
        w.handlers.map((h) => [w.service, `${w.host}:${w.pid}`, h.consumer, h.filterSubject, `${h.concurrency}${h.concurrency !== h.configuredConcurrency ? ` (configured ${h.configuredConcurrency})` : ''}`, h.paused ? `paused by ${h.paused.by}` : '', w.version]),
      );
      const workflows = res.items.flatMap((w) => w.workflows.map((t) => [w.service, `${w.host}:${w.pid}`, t.name, t.version]));
      ctx.print(res, () =>
        [
          rows.length === 0 ? 'no consumers' : table(['SERVICE', 'HOST:PID', 'CONSUMER', 'SUBJECT', 'SLOTS', 'PAUSED', 'VERSION'], rows),
          ...(workflows.length ? ['', table(['SERVICE', 'HOST:PID', 'WORKFLOW TYPE', 'VERSION'], workflows)] : []),
        ].join('\n'),
      );
    });
  inspect
    .command('stats')
    .description('handled, failed, retried, memory, event-loop lag and uptime per worker')
    .action(async (_opts: unknown, command: Command) => {
      const ctx = CliContext.of(command);
      const res = await ctx.api.call(ctx.api.client.GET('/api/v1/admin/workers/stats'));
      ctx.print(res, () =>
        table(
          ['SERVICE', 'HOST:PID', 'STATUS', 'HANDLED', 'FAILED', 'RETRIED', 'RSS', 'HEAP', 'LAG P99', 'UPTIME'],
          res.items.map((w) => [
            w.service,
            `${w.host}:${w.pid}`,
            w.status,
            w.handled,
            w.failed,
            w.retried,
            bytes(w.process?.rssBytes),
            bytes(w.process?.heapUsedBytes),
            w.process ? `${w.process.eventLoopLagMs.p99} ms` : null,
            w.process ? duration(w.process.uptimeSeconds * 1000) : null,
          ]),
        ),
      );
    });
  return workers;
}

const isoDate = (value: string) => {
  if (Number.isNaN(Date.parse(value))) throw new InvalidArgumentError('must be a date or time (ISO 8601)');
  return new Date(value).toISOString();
};
const collect = (value: string, previous: string[] = []) => [...previous, ...value.split(',').filter(Boolean)];

/** `tasks bulk <action>`: cancel, resume or retry the failed items of the tasks a filter matches. */
export function tasksBulkCommand(): Command {
  return bulkCommand(
    'tasks',
    ['cancel', 'resume', 'retry-failed-items'],
    (cmd) =>
      cmd
        .addOption(new Option('--status <status...>', 'task statuses').choices(TASK_STATUSES))
        .option('--type <type>', 'task type')
        .option('--owner <owner>', 'owner')
        .option('--code <code>', 'error code (ITEMS_FAILED, PURGED, ...)')
        .option('--from <time>', 'created at or after', isoDate)
        .option('--to <time>', 'created before', isoDate)
        .option('--id <ids>', 'explicit task ids (repeat or comma-separate)', collect),
    (ctx, action, o, dryRun) => {
      const filter = defined({ status: o.status, type: o.type, owner: o.owner, errorCode: o.code, createdFrom: o.from, createdTo: o.to, ids: o.id }) as TaskBulkBody['filter'];
      return ctx.api.call(ctx.api.client.POST('/api/v1/admin/tasks/bulk', { body: { action: action as TaskBulkBody['action'], filter, dryRun } }));
    },
  );
}

/** `dlq bulk <action>`: replay or discard the dead letters a filter matches. */
export function dlqBulkCommand(): Command {
  return bulkCommand(
    'dead letters',
    ['replay', 'discard'],
    (cmd) =>
      cmd
        .addOption(new Option('--stream <stream>', 'stream').choices(QUEUES))
        .option('--reason <text>', 'reason prefix (max_deliver, permanent_error: LLM_REJECTED, ...)')
        .option('--task <id>', 'task id')
        .option('--from <time>', 'created at or after', isoDate)
        .option('--to <time>', 'created before', isoDate)
        .option('--id <ids>', 'explicit dead-letter ids (repeat or comma-separate)', collect),
    (ctx, action, o, dryRun) => {
      const filter = defined({ stream: o.stream, reason: o.reason, taskId: o.task, createdFrom: o.from, createdTo: o.to, ids: o.id }) as DeadLetterBulkBody['filter'];
      return ctx.api.call(ctx.api.client.POST('/api/v1/admin/dead-letters/bulk', { body: { action: action as DeadLetterBulkBody['action'], filter, dryRun } }));
    },
  );
}

/** The options given (commander leaves the others undefined: they are not part of the filter). */
const defined = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

type BulkOptions = Record<string, any> & { dryRun: boolean; wait: boolean };
type BulkAnswer = BulkDryRun | BulkJobStarted;

function bulkCommand(
  what: string,
  actions: readonly string[],
  withFilter: (cmd: Command) => Command,
  send: (ctx: CliContext, action: string, opts: BulkOptions, dryRun: boolean) => Promise<BulkAnswer>,
): Command {
  const cmd = new Command('bulk')
    .description(`act on the ${what} a filter matches (at most 10,000 per call): --dry-run counts them; --wait follows the job`)
    .addArgument(new Argument('<action>', actions.join(' | ')).choices(actions))
    .option('--dry-run', 'only count and show a sample', false)
    .option('--wait', 'wait for the job to finish (exit 1 if any item failed)', false);
  withFilter(cmd).action(async (action: string, opts: BulkOptions, command: Command) => {
    const ctx = CliContext.of(command);
    const answer = await send(ctx, action, opts, opts.dryRun);
    if ('dryRun' in answer) {
      ctx.print(answer, () => `${answer.matched} ${what} match (${answer.willActOn} per call); sample:\n${answer.sample.map((id) => `  ${id}`).join('\n')}`);
      return;
    }
    let res: BulkJob | BulkJobStarted = answer;
    while (opts.wait && res.status === 'running') {
      await new Promise((resolve) => setTimeout(resolve, JOB_POLL_MS));
      res = await ctx.api.call(ctx.api.client.GET('/api/v1/admin/jobs/{id}', { params: { path: { id: res.jobId } } }));
    }
    const job = res;
    ctx.print(job, () =>
      fields([
        ['job', job.jobId],
        ['task', job.taskId],
        ['action', job.action],
        ['status', job.status],
        ['progress', `${job.done + job.failed + job.skipped}/${job.total} (done ${job.done}, failed ${job.failed}, skipped ${job.skipped})`],
        ['matched', job.matched],
        ...job.errors.slice(0, 5).map((e) => ['error', `${e.id}: ${e.code} ${e.message}`] as const),
      ]),
    );
    if (job.status === 'failed' || (opts.wait && job.failed > 0)) throw new CliError(`bulk ${action}: ${job.failed} items failed${job.error ? ` (${job.error})` : ''}`, ExitCode.failed);
  });
  return cmd;
}

/** `audit`: the admin actions, newest first. */
export function auditCommand(): Command {
  return new Command('audit')
    .description('admin actions, newest first: who, what, target, outcome, when (admin)')
    .option('--actor <actor>', 'only this admin')
    .option('--action <action>', 'only this action (queue.pause, tasks.bulk, ...)')
    .option('--limit <n>', 'how many (1-500)', intOption(1, 500), 50)
    .option('--cursor <cursor>', 'the next page (printed after a full page)')
    .action(async (opts: { actor?: string; action?: string; limit: number; cursor?: string }, command: Command) => {
      const ctx = CliContext.of(command);
      const page = await ctx.api.call(ctx.api.client.GET('/api/v1/admin/audit', { params: { query: opts } }));
      ctx.print(page, () => {
        if (page.items.length === 0) return 'no admin actions';
        const rows = table(
          ['AT', 'ACTOR', 'ACTION', 'TARGET', 'OUTCOME', 'PARAMS'],
          page.items.map((e) => [e.at, e.actor, e.action, e.target, e.outcome === 'ok' ? 'ok' : `failed: ${(e.result as { code?: string } | null)?.code ?? ''}`, JSON.stringify(e.params)]),
        );
        return page.nextCursor ? `${rows}\n(more: --cursor ${page.nextCursor})` : rows;
      });
    });
}
