import type { Roadmap, TaskDetail } from '@roadmap/client';
import { CONTENT_KINDS, PRIORITIES, REVIEW_MODES, type ContentKind, type Level, type Priority, type ReviewMode } from '@roadmap/contracts';
import { Command, Option } from 'commander';
import { CliContext } from '../context.js';
import { CliError, ExitCode } from '../exit-codes.js';
import { duration, fields } from '../format.js';
import { followTask, type FollowMode } from '../follow.js';
import { intOption } from '../options.js';
import { assertCompleted, progressText } from './tasks.js';

/** `roadmaps create|review|retry`. */
export function roadmapsCommand(): Command {
  const roadmaps = new Command('roadmaps').description('create roadmaps, review their framework, regenerate items');

  roadmaps
    .command('create')
    .description('turn a learning goal into a roadmap (a task that runs in the background)')
    .requiredOption('--goal <text>', 'the learner\'s goal, 3-500 characters')
    .addOption(new Option('--level <level>', 'learner level').choices(['beginner', 'intermediate', 'advanced']))
    .option('--hours-per-week <n>', 'study hours per week (1-80)', intOption(1, 80))
    .option('--duration-weeks <n>', 'length of the roadmap in weeks (1-104)', intOption(1, 104))
    .option('--background <text>', 'what the learner already knows')
    .option('--language <code>', 'content language (default en)')
    .addOption(new Option('--priority <priority>', 'queue priority').choices(PRIORITIES))
    .addOption(new Option('--review <mode>', 'required: a person approves the framework before content is generated').choices(REVIEW_MODES))
    .option('--idempotency-key <key>', 'makes a retried create safe: the same key returns the first task')
    .option('-f, --follow', 'show live progress until the task ends (exit 1 if it fails)', false)
    .action(async (opts: CreateOptions, command: Command) => {
      const ctx = CliContext.of(command);
      const preferences = {
        level: opts.level,
        hoursPerWeek: opts.hoursPerWeek,
        durationWeeks: opts.durationWeeks,
        background: opts.background,
        language: opts.language,
      };
      const body = {
        goal: opts.goal,
        ...(Object.values(preferences).some((v) => v !== undefined) ? { preferences } : {}),
        priority: opts.priority,
        review: opts.review,
      };
      const created = await ctx.api.call(
        ctx.api.client.POST('/api/v1/roadmaps', { body, params: { header: opts.idempotencyKey ? { 'Idempotency-Key': opts.idempotencyKey } : {} } }),
      );
      if (!opts.follow) {
        ctx.print(created, () => fields([['task', created.taskId], ['roadmap', created.roadmapId], ['status', created.status]]));
        return;
      }
      const mode: FollowMode = ctx.json ? 'json' : process.stderr.isTTY ? 'bar' : 'lines';
      if (!ctx.json) process.stdout.write(`task ${created.taskId} (roadmap ${created.roadmapId}) accepted; following its progress\n`);
      await followTask(ctx.api, created.taskId, mode);
      const task = await ctx.api.call(ctx.api.client.GET('/api/v1/tasks/{id}', { params: { path: { id: created.taskId } } }));
      const roadmap = await ctx.api.call(ctx.api.client.GET('/api/v1/roadmaps/{id}', { params: { path: { id: created.roadmapId } } })).catch(() => null);
      // With --json the events were JSON lines: the outcome is one more line.
      if (ctx.json) process.stdout.write(`${JSON.stringify({ task, roadmap: roadmap && { id: roadmap.id, title: roadmap.title, status: roadmap.status } })}\n`);
      else process.stdout.write(`${summary(task, roadmap)}\n`);
      assertCompleted(task);
    });

  roadmaps
    .command('review')
    .description('approve the framework of a roadmap awaiting review, or ask for a revision')
    .argument('<roadmapId>', 'roadmap id')
    .option('--approve', 'approve: content generation starts')
    .option('--revise <feedback>', 'what to change: the framework is edited, validated, and shown again')
    .action(async (roadmapId: string, opts: { approve?: boolean; revise?: string }, command: Command) => {
      if (Boolean(opts.approve) === (opts.revise !== undefined)) throw new CliError('roadmaps review needs exactly one of --approve or --revise "feedback"', ExitCode.usage);
      const ctx = CliContext.of(command);
      const body = opts.approve ? { decision: 'approve' as const } : { decision: 'revise' as const, feedback: opts.revise! };
      const result = await ctx.api.call(ctx.api.client.POST('/api/v1/roadmaps/{id}/review', { params: { path: { id: roadmapId } }, body }));
      ctx.print(result, () => `review ${result.decision} of revision ${result.revision} submitted; task ${result.taskId} is ${result.status}`);
    });

  roadmaps
    .command('retry')
    .description('generate some of a concept\'s items again (all three kinds by default)')
    .argument('<roadmapId>', 'roadmap id')
    .argument('<conceptId>', 'concept id (see `tasks show`)')
    .addOption(new Option('--kind <kind...>', 'item kinds to regenerate').choices(CONTENT_KINDS))
    .action(async (roadmapId: string, conceptId: string, opts: { kind?: ContentKind[] }, command: Command) => {
      const ctx = CliContext.of(command);
      const result = await ctx.api.call(
        ctx.api.client.POST('/api/v1/roadmaps/{id}/concepts/{conceptId}/retry', { params: { path: { id: roadmapId, conceptId } }, body: opts.kind ? { kinds: opts.kind } : {} }),
      );
      ctx.print(result, () => `regenerating ${result.kinds.join(', ')} of concept ${conceptId}; task ${result.taskId} is ${result.status}`);
    });

  return roadmaps;
}

interface CreateOptions {
  goal: string;
  level?: Level;
  hoursPerWeek?: number;
  durationWeeks?: number;
  background?: string;
  language?: string;
  priority?: Priority;
  review?: ReviewMode;
  idempotencyKey?: string;
  follow: boolean;
}

/** The end of `create --follow`: how the task ended, what it produced. */
function summary(task: TaskDetail, roadmap: Roadmap | null): string {
  const took = task.finishedAt ? duration(Date.parse(task.finishedAt) - Date.parse(task.createdAt)) : null;
  const stages = roadmap?.stages ?? [];
  const concepts = stages.reduce((n, s) => n + s.concepts.length, 0);
  const entries: Array<[string, string | number | null]> = [
    ['task', `${task.id} ${task.status}${took ? ` in ${took}` : ''}`],
    ['items', task.progress?.total ? `${progressText(task.progress)} (${task.progress.done} completed)` : null],
    ['roadmap', roadmap ? `${roadmap.id}${roadmap.title ? ` "${roadmap.title}"` : ''}${stages.length ? ` (${stages.length} stages, ${concepts} concepts)` : ''}` : task.roadmapId],
  ];
  if (task.error) entries.push(['error', `${task.error.code}: ${task.error.message}`]);
  if (task.status === 'awaiting_review') entries.push(['next', `roadmaps review ${task.roadmapId} --approve | --revise "feedback"`]);
  return fields(entries);
}
