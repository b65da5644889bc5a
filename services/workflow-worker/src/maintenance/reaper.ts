import { CONTENT_STEP, PRIORITY_CONSUMERS, Subjects, type ConsumerDeclaration, type ErrorCode, type Priority, type WorkflowMessage } from '@roadmap/contracts';
import { Messaging } from '@roadmap/messaging';
import { counter, ExecutionLogger, type Logger } from '@roadmap/observability';
import { sql, type StoredError } from '@roadmap/persistence';
import { Outbox, type TaskLifecycle, type WorkflowEngine, type WorkflowRegistry } from '@roadmap/workflow';
import type { DataSource } from 'typeorm';
import type { MaintenanceJobResult } from './maintenance.scheduler.js';

export interface ReaperOptions {
  /** REAPER_QUEUED_AFTER_SECONDS */
  readonly queuedAfterSeconds: number;
  /** REAPER_STALLED_AFTER_SECONDS */
  readonly stalledAfterSeconds: number;
  /** REAPER_MAX_REDRIVES */
  readonly maxRedrives: number;
  /** Tasks looked at per run (the oldest first); the rest wait for the next run. */
  readonly batch?: number;
}

export const STALLED_CODE: ErrorCode = 'TASK_STALLED';

const reaped = counter('roadmap_maintenance_tasks_reaped_total', 'Stuck tasks the reaper re-drove or failed, by action', ['action']);

/**
 * A task is stuck when it is queued with no change for `$1` seconds (its workflow message was lost:
 * a publish the broker lost, a purged stream, a relay that crashed), or running with no progress of
 * any kind (task row, checkpoint, and for a roadmap its content items) for `$2` seconds. A task with
 * a message still waiting in the outbox (NATS down, the relay behind) lost nothing: never stuck; nor
 * has a task whose work is all held for fair dispatch, none of it released (its owner's window is
 * taken by the owner's other work: its turn comes). One with work released and no progress is judged
 * like any other: if the released messages were lost, a re-drive gives its items a new generation and
 * the held ones go with them, so lost messages never keep an owner's window full.
 * `awaiting_review` waits for a person: never stuck. `t` is the task row; a task with no roadmap has
 * no items (greatest() ignores the NULL).
 */
const STUCK = `(
  (t.status = 'queued' AND t.updated_at < now() - make_interval(secs => $1))
  OR (t.status = 'running' AND greatest(
        t.updated_at,
        (SELECT max(c.created_at) FROM workflow_checkpoints c WHERE c.task_id = t.id),
        (SELECT max(i.updated_at) FROM content_items i WHERE i.roadmap_id = t.roadmap_id)
      ) < now() - make_interval(secs => $2)))
  AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.payload->>'taskId' = t.id::text)
  AND NOT (EXISTS (SELECT 1 FROM dispatch_queue q WHERE q.task_id = t.id AND q.released_at IS NULL)
           AND NOT EXISTS (SELECT 1 FROM dispatch_queue q WHERE q.task_id = t.id AND q.released_at IS NOT NULL))`;

/** The columns the reaper reads of a candidate (`t` is the task row). */
const COLUMNS = `t.id, t.type, t.status, t.priority, t.roadmap_id, t.redrives, t.current_step,
  (SELECT count(*) FROM workflow_checkpoints c WHERE c.task_id = t.id)::int AS checkpoints,
  EXISTS (SELECT 1 FROM workflow_checkpoints c WHERE c.task_id = t.id AND c.step = 'fan_out') AS fanned_out`;

export interface StuckTask {
  id: string;
  type: string;
  status: 'queued' | 'running';
  priority: Priority;
  roadmap_id: string | null;
  redrives: number;
  current_step: string | null;
  checkpoints: number;
  fanned_out: boolean;
}

/** How the reaper deals with a stuck task of one type. */
export interface ReapPlan {
  /** The consumer the task's pending work waits in: while it has undelivered messages, the task is deferred. */
  readonly queue: Pick<ConsumerDeclaration, 'stream' | 'durable'>;
  /** The command that makes the task progress again, published on its re-drive number `redrive`. */
  redrive(redrive: number): { readonly subject: string; readonly message: unknown; readonly msgId: string; readonly command: string };
}

/**
 * How a stuck task of any type the worker runs gets going again. Its pending work waits in the
 * workflow queue of its priority, or in the content queue once its items went out (a roadmap in
 * content generation). It is re-driven with `generate` when it never ran a step; with `join` when it
 * waits for children (a lost join notice: every delivery that finds them all ended joins); with
 * `resume` otherwise (the engine replays the checkpoints; a roadmap in its content phase regenerates
 * the items not completed under a new generation, so a late result of the lost round is fenced off).
 * Failing it fails the definition's own rows too (WorkflowEngine.failIn). A type this worker has no definition for is left
 * alone (`skipped`): the reaper cannot tell how it would progress.
 */
export function reapPlanOf(task: StuckTask, registry: Pick<WorkflowRegistry, 'has'>): ReapPlan | undefined {
  if (!registry.has(task.type)) return undefined;
  const phase = task.fanned_out || task.current_step === CONTENT_STEP ? 'content' : 'workflow';
  return {
    queue: PRIORITY_CONSUMERS[phase][task.priority],
    redrive(redrive) {
      const command: WorkflowMessage['command'] =
        task.status === 'queued' && task.checkpoints === 0 ? 'generate' : task.current_step === 'children' ? 'join' : 'resume';
      const message: WorkflowMessage = { taskId: task.id, type: task.type, ...(task.roadmap_id && { roadmapId: task.roadmap_id }), command };
      // The API's message id with the re-drive's number: a new message despite the stream's duplicate
      // window, and still one message if the transaction is retried after a publish that went through.
      return { subject: Subjects.workflow(task.priority, command), message, msgId: `workflow-${command}:${task.id}:redrive-${redrive}`, command };
    },
  };
}

type Outcome = 'redriven' | 'failed' | 'deferred' | 'skipped';

/**
 * Re-drives stuck tasks of every type by publishing the command their type's {@link ReapPlan} gives,
 * through the same subjects and message contract as the API. Each re-drive is counted on the task
 * (`tasks.redrives`); past REAPER_MAX_REDRIVES the task fails with TASK_STALLED.
 *
 * A re-drive while the message is in fact only waiting in a backed-up queue would run the task twice
 * at once, so a task is deferred (not counted) while its plan's queue has undelivered messages: a
 * lost message is one that is not there when the queue has drained.
 */
export class Reaper {
  constructor(
    private readonly dataSource: DataSource,
    private readonly messaging: Messaging,
    private readonly executionLog: ExecutionLogger,
    private readonly logger: Logger,
    private readonly options: ReaperOptions,
    private readonly lifecycle: TaskLifecycle,
    private readonly registry: Pick<WorkflowRegistry, 'has'>,
    private readonly engine: Pick<WorkflowEngine, 'failIn'>,
  ) {}

  async run(): Promise<MaintenanceJobResult> {
    const candidates = await this.findStuck();
    const counts: Record<Outcome, number> = { redriven: 0, failed: 0, deferred: 0, skipped: 0 };
    const tasks: Array<{ taskId: string; action: Outcome }> = [];
    const backlog = new Map<string, Promise<boolean>>();
    for (const task of candidates) {
      const plan = reapPlanOf(task, this.registry);
      let action: Outcome;
      if (!plan) action = 'skipped';
      else {
        const { queue } = plan;
        if (!backlog.has(queue.durable)) backlog.set(queue.durable, this.hasBacklog(queue));
        action = (await backlog.get(queue.durable)) ? 'deferred' : await this.reap(task.id);
      }
      counts[action]++;
      if (action === 'redriven' || action === 'failed') tasks.push({ taskId: task.id, action });
    }
    return { rows: counts.redriven + counts.failed, detail: { stuck: candidates.length, ...counts, tasks: tasks.slice(0, 50) } };
  }

  private async findStuck(): Promise<StuckTask[]> {
    const { rows } = await sql<StuckTask>(
      this.dataSource,
      `SELECT ${COLUMNS} FROM tasks t
        WHERE t.status IN ('queued', 'running') AND ${STUCK}
        ORDER BY t.updated_at LIMIT $3`,
      [this.options.queuedAfterSeconds, this.options.stalledAfterSeconds, this.options.batch ?? 100],
    );
    return rows;
  }

  /** Whether the consumer has messages not yet delivered; an unanswered question counts as yes. */
  private async hasBacklog(consumer: { stream: string; durable: string }): Promise<boolean> {
    try {
      const info = await this.messaging.jsm.consumers.info(this.messaging.streamName(consumer.stream), consumer.durable);
      return info.num_pending > 0;
    } catch (error) {
      this.logger.warn({ err: error, consumer: consumer.durable }, 'reaper: consumer info unavailable; stuck tasks wait for the next run');
      return true;
    }
  }

  /**
   * Re-drives or fails one task under its row lock, re-checking that it is still stuck (a worker may
   * have moved it meanwhile, or another run reaped it). The command goes to the outbox in the same
   * transaction as the count: the count is taken exactly when the command will be published.
   */
  private async reap(taskId: string): Promise<Outcome> {
    const result = await this.dataSource.transaction(async (em) => {
      const { rows } = await sql<StuckTask & { stuck: boolean }>(
        em,
        `SELECT ${COLUMNS}, ${STUCK} AS stuck FROM tasks t WHERE t.id = $3 FOR UPDATE OF t`,
        [this.options.queuedAfterSeconds, this.options.stalledAfterSeconds, taskId],
      );
      const task = rows[0];
      const plan = task && reapPlanOf(task, this.registry);
      if (!task?.stuck || !plan || (task.status !== 'queued' && task.status !== 'running')) return { action: 'skipped' as const };
      if (task.redrives >= this.options.maxRedrives) {
        const error: StoredError = {
          code: STALLED_CODE,
          message: `no progress while ${task.status}${task.current_step ? ` at ${task.current_step}` : ''} after ${task.redrives} re-drive(s); resume it once the cause is fixed`,
        };
        // Whatever may still run for it (a hung worker) stops, as on a cancel; its writes are fenced off anyway.
        await this.engine.failIn(em, task.id, error, { event: `reaper:${task.redrives}`, abort: true });
        return { action: 'failed' as const, task, error };
      }
      const redrive = task.redrives + 1;
      await this.lifecycle.countRedrive(em, task.id, redrive);
      const { subject, message, msgId, command } = plan.redrive(redrive);
      await Outbox.add(em, [{ subject, payload: message, key: msgId, taskId: task.id }]);
      return { action: 'redriven' as const, task, command, redrive };
    });

    if (result.action === 'redriven') {
      reaped.inc({ action: 'redriven' });
      const what = `re-driven by the reaper (${result.redrive}/${this.options.maxRedrives}): ${result.command} published again after no progress while ${result.task.status}`;
      this.logger.warn({ taskId, command: result.command, redrive: result.redrive }, `task ${what}`);
      await this.executionLog.warn(what, { taskId, step: result.task.current_step, data: { command: result.command, redrives: result.redrive } });
    } else if (result.action === 'failed') {
      reaped.inc({ action: 'failed' });
      this.logger.warn({ taskId, code: STALLED_CODE }, `task failed by the reaper: ${result.error.message}`);
      await this.executionLog.error(`failed by the reaper: ${result.error.message}`, { taskId, step: result.task.current_step, data: { code: STALLED_CODE } });
    }
    return result.action;
  }
}
