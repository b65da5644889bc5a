import type { TaskDetail } from '@roadmap/client';
import { FINAL_TASK_STATUSES, LOG_LEVELS, TASK_STATUSES, type TaskStatus } from '@roadmap/contracts';
import { Command, Option } from 'commander';
import { CliContext } from '../context.js';
import { CliError, ExitCode } from '../exit-codes.js';
import { clock, duration, fields, progressBar, table } from '../format.js';
import { intOption } from '../options.js';
import { addTaskApiCommands, familyFields } from './task-api.js';

/** Pause between two polls of `tasks logs --follow`. */
const LOG_POLL_MS = 1_000;

/** `tasks ls|show|cancel|resume|logs`. */
export function tasksCommand(): Command {
  const tasks = new Command('tasks').description('create, list, inspect, cancel and resume tasks of every type; read their results and execution logs');
  addTaskApiCommands(tasks);

  tasks
    .command('ls')
    .description('tasks, newest first')
    .addOption(new Option('--status <status>', 'only tasks in this state').choices(TASK_STATUSES))
    .option('--type <type>', 'only tasks of this type')
    .option('--parent <id>', "only this task's children (a batch's roadmaps)")
    .option('--limit <n>', 'how many (1-200)', intOption(1, 200), 20)
    .option('--cursor <cursor>', 'the next page (printed after a full page)')
    .action(async (opts: { status?: TaskStatus; type?: string; parent?: string; limit: number; cursor?: string }, command: Command) => {
      const ctx = CliContext.of(command);
      const page = await ctx.api.call(
        ctx.api.client.GET('/api/v1/tasks', {
          params: { query: { status: opts.status, type: opts.type, parentId: opts.parent, limit: opts.limit, cursor: opts.cursor } },
        }),
      );
      ctx.print(page, () => {
        if (page.items.length === 0) return 'no tasks';
        const rows = table(
          ['ID', 'TYPE', 'STATUS', 'STEP', 'PROGRESS', 'PRIORITY', 'CREATED', 'ERROR'],
          page.items.map((t) => [t.id, t.type, t.status, t.currentStep, progressText(t.progress), t.priority, t.createdAt, t.error?.code]),
        );
        return page.nextCursor ? `${rows}\n(more: --cursor ${page.nextCursor})` : rows;
      });
    });

  tasks
    .command('show')
    .description('a task: status, step, progress, and the state of every concept\'s items')
    .argument('<id>', 'task id')
    .action(async (id: string, _opts: unknown, command: Command) => {
      const ctx = CliContext.of(command);
      const task = await ctx.api.call(ctx.api.client.GET('/api/v1/tasks/{id}', { params: { path: { id } } }));
      ctx.print(task, () => showTask(task));
    });

  tasks
    .command('cancel')
    .description('cancel a task: its LLM calls are aborted and its queued work skipped')
    .argument('<id>', 'task id')
    .action(async (id: string, _opts: unknown, command: Command) => {
      const ctx = CliContext.of(command);
      const task = await ctx.api.call(ctx.api.client.POST('/api/v1/tasks/{id}/cancel', { params: { path: { id } } }));
      ctx.print(task, () => `task ${task.id} is ${task.status}`);
    });

  tasks
    .command('resume')
    .description('resume a failed or cancelled task from its last checkpoint')
    .argument('<id>', 'task id')
    .action(async (id: string, _opts: unknown, command: Command) => {
      const ctx = CliContext.of(command);
      const result = await ctx.api.call(ctx.api.client.POST('/api/v1/tasks/{id}/resume', { params: { path: { id } } }));
      ctx.print(result, () => `task ${result.taskId} is ${result.status}`);
    });

  tasks
    .command('logs')
    .description('execution logs of a task, oldest first')
    .argument('<id>', 'task id')
    .addOption(new Option('--level <level>', 'only entries at this level or above').choices(LOG_LEVELS))
    .option('--limit <n>', 'at most this many entries (default: all)', intOption(1, 1_000_000))
    .option('-f, --follow', 'keep printing new entries until the task finishes', false)
    .action(async (id: string, opts: { level?: (typeof LOG_LEVELS)[number]; limit?: number; follow: boolean }, command: Command) => {
      const ctx = CliContext.of(command);
      const min = opts.level ? LOG_LEVELS.indexOf(opts.level) : 0;
      // The last page has no next cursor: following re-reads it from its start and skips what was printed.
      let cursor: string | undefined;
      const seen = new Set<string>();
      let printed = 0;
      let lastLook = false;
      for (;;) {
        const page = await ctx.api.call(ctx.api.client.GET('/api/v1/tasks/{id}/logs', { params: { path: { id }, query: { cursor, limit: 1000, level: opts.level } } }));
        let fresh = 0;
        for (const entry of page.items) {
          if (seen.has(entry.id)) continue;
          seen.add(entry.id);
          fresh++;
          if (LOG_LEVELS.indexOf(entry.level) < min) continue;
          if (opts.limit !== undefined && printed >= opts.limit) return;
          process.stdout.write(`${ctx.json ? JSON.stringify(entry) : logLine(entry)}\n`);
          printed++;
        }
        if (page.nextCursor) {
          cursor = page.nextCursor;
          seen.clear();
          continue;
        }
        if (!opts.follow) return;
        const task = await ctx.api.call(ctx.api.client.GET('/api/v1/tasks/{id}', { params: { path: { id } } }));
        if (FINAL_TASK_STATUSES.includes(task.status) && fresh === 0) {
          // Entries reach the database shortly after they are written (the log sink batches): one more look.
          if (lastLook) return;
          lastLook = true;
        }
        if (fresh === 0) await new Promise((r) => setTimeout(r, 2 * LOG_POLL_MS));
      }
    });

  return tasks;
}

export function progressText(p: { done: number; failed: number; total: number; percent?: number } | null | undefined): string {
  if (!p || p.total === 0) return '-';
  return `${p.done + p.failed}/${p.total}${p.failed > 0 ? ` (${p.failed} failed)` : ''}`;
}

function logLine(e: { at: string; level: string; service: string; step: string | null; message: string; data: unknown }): string {
  const data = e.data === null || e.data === undefined ? '' : ` ${JSON.stringify(e.data)}`;
  return `${clock(e.at)} ${e.level.toUpperCase().padEnd(5)} ${e.service}${e.step ? ` [${e.step}]` : ''} ${e.message}${data}`;
}

export function showTask(t: TaskDetail): string {
  const took = t.finishedAt ? duration(Date.parse(t.finishedAt) - Date.parse(t.createdAt)) : null;
  const lines = [
    fields([
      ['id', t.id],
      ['type', t.type],
      ['status', t.status],
      ['step', t.currentStep],
      ['progress', t.progress?.total ? progressBar(t.progress.done, t.progress.failed, t.progress.total) : null],
      ['priority', t.priority],
      ['roadmap', t.roadmapId],
      ['error', t.error ? `${t.error.code}: ${t.error.message}` : null],
      ['attempts', t.attempts],
      ['created', t.createdAt],
      ['finished', t.finishedAt ? `${t.finishedAt} (${took})` : null],
    ]),
  ];
  const family = familyFields(t);
  if (family) lines.push(family);
  if (t.concepts.length > 0) {
    const kinds = [...new Set(t.concepts.flatMap((c) => Object.keys(c.items)))] as Array<keyof TaskDetail['concepts'][number]['items']>;
    lines.push('', table(['CONCEPT', 'ID', ...kinds.map((k) => k.toUpperCase())], t.concepts.map((c) => [c.slug, c.id, ...kinds.map((k) => c.items[k])])));
  }
  return lines.join('\n');
}

/** Exit code 1 for a task that ended without completing. */
export function assertCompleted(task: { id: string; status: string; error?: { code: string; message: string } | null }): void {
  if (task.status === 'failed' || task.status === 'cancelled') {
    throw new CliError(`task ${task.id} ${task.status}${task.error ? `: ${task.error.code}: ${task.error.message}` : ''}`, ExitCode.failed);
  }
}
