import { CONTENT_STEP, PRIORITY_CONSUMERS, Subjects, type ErrorCode, type Priority, type WorkflowMessage } from '@roadmap/contracts';
import { JetStreamPublisher, Messaging } from '@roadmap/messaging';
import { counter, ExecutionLogger, type Logger } from '@roadmap/observability';
import { sql, type StoredError } from '@roadmap/persistence';
import { TaskEvents } from '@roadmap/runtime';
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
 * any kind (task row, checkpoint, content item) for `$2` seconds. `awaiting_review` waits for a
 * person: never stuck. `t` is the task row.
 */
const STUCK = `(
  (t.status = 'queued' AND t.updated_at < now() - make_interval(secs => $1))
  OR (t.status = 'running' AND greatest(
        t.updated_at,
        (SELECT max(c.created_at) FROM workflow_checkpoints c WHERE c.task_id = t.id),
        (SELECT max(i.updated_at) FROM content_items i WHERE i.roadmap_id = t.roadmap_id)
      ) < now() - make_interval(secs => $2)))`;

interface StuckTask {
  id: string;
  status: 'queued' | 'running';
  priority: Priority;
  roadmap_id: string;
  redrives: number;
  current_step: string | null;
  checkpoints: number;
  fanned_out: boolean;
}

type Outcome = 'redriven' | 'failed' | 'deferred' | 'skipped';

/**
 * Re-drives stuck tasks by publishing their workflow command again, through the same subjects and
 * message contract as the API: `generate` for a task that never ran a step, `resume` otherwise (the
 * worker replays the checkpoints; in the content phase it regenerates the items not completed, under
 * a new generation so a late result of the lost round is fenced off). Each re-drive is counted on the
 * task (`tasks.redrives`); past REAPER_MAX_REDRIVES the task fails with TASK_STALLED.
 *
 * A re-drive while the message is in fact only waiting in a backed-up queue would run the task twice
 * at once, so a task is deferred (not counted) while its queue (the workflow consumer, or the content
 * consumer in the content phase, of its priority) has undelivered messages: a lost message is one
 * that is not there when the queue has drained.
 */
export class Reaper {
  constructor(
    private readonly dataSource: DataSource,
    private readonly publisher: JetStreamPublisher,
    private readonly messaging: Messaging,
    private readonly events: TaskEvents,
    private readonly executionLog: ExecutionLogger,
    private readonly logger: Logger,
    private readonly options: ReaperOptions,
  ) {}

  async run(): Promise<MaintenanceJobResult> {
    const candidates = await this.findStuck();
    const counts: Record<Outcome, number> = { redriven: 0, failed: 0, deferred: 0, skipped: 0 };
    const tasks: Array<{ taskId: string; action: Outcome }> = [];
    const backlog = new Map<string, Promise<boolean>>();
    for (const task of candidates) {
      const consumer = this.consumerOf(task);
      if (!backlog.has(consumer.durable)) backlog.set(consumer.durable, this.hasBacklog(consumer));
      const action = (await backlog.get(consumer.durable)) ? 'deferred' : await this.reap(task.id);
      counts[action]++;
      if (action === 'redriven' || action === 'failed') tasks.push({ taskId: task.id, action });
    }
    return { rows: counts.redriven + counts.failed, detail: { stuck: candidates.length, ...counts, tasks: tasks.slice(0, 50) } };
  }

  private async findStuck(): Promise<StuckTask[]> {
    const { rows } = await sql<StuckTask>(
      this.dataSource,
      `SELECT t.id, t.status, t.priority, t.roadmap_id, t.redrives, t.current_step,
              (SELECT count(*) FROM workflow_checkpoints c WHERE c.task_id = t.id)::int AS checkpoints,
              EXISTS (SELECT 1 FROM workflow_checkpoints c WHERE c.task_id = t.id AND c.step = 'fan_out') AS fanned_out
         FROM tasks t
        WHERE t.status IN ('queued', 'running') AND t.roadmap_id IS NOT NULL AND ${STUCK}
        ORDER BY t.updated_at LIMIT $3`,
      [this.options.queuedAfterSeconds, this.options.stalledAfterSeconds, this.options.batch ?? 100],
    );
    return rows;
  }

  private consumerOf(task: StuckTask) {
    const phase = task.fanned_out || task.current_step === CONTENT_STEP ? 'content' : 'workflow';
    return PRIORITY_CONSUMERS[phase][task.priority];
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
   * have moved it meanwhile, or another run reaped it). The publish happens inside the transaction:
   * if NATS refuses it, the count is not taken and the next run tries again.
   */
  private async reap(taskId: string): Promise<Outcome> {
    const result = await this.dataSource.transaction(async (em) => {
      const { rows } = await sql<StuckTask & { stuck: boolean }>(
        em,
        `SELECT t.id, t.status, t.priority, t.roadmap_id, t.redrives, t.current_step, ${STUCK} AS stuck,
                (SELECT count(*) FROM workflow_checkpoints c WHERE c.task_id = t.id)::int AS checkpoints,
                EXISTS (SELECT 1 FROM workflow_checkpoints c WHERE c.task_id = t.id AND c.step = 'fan_out') AS fanned_out
           FROM tasks t WHERE t.id = $3 FOR UPDATE OF t`,
        [this.options.queuedAfterSeconds, this.options.stalledAfterSeconds, taskId],
      );
      const task = rows[0];
      if (!task?.stuck || (task.status !== 'queued' && task.status !== 'running')) return { action: 'skipped' as const };
      if (task.redrives >= this.options.maxRedrives) {
        const error: StoredError = {
          code: STALLED_CODE,
          message: `no progress while ${task.status}${task.current_step ? ` at ${task.current_step}` : ''} after ${task.redrives} re-drive(s); resume it once the cause is fixed`,
        };
        await sql(em, `UPDATE tasks SET status = 'failed', error = $2::jsonb, finished_at = now(), updated_at = now() WHERE id = $1`, [
          task.id,
          JSON.stringify(error),
        ]);
        await sql(em, `UPDATE roadmaps SET status = 'failed', updated_at = now() WHERE id = $1 AND status IN ('designing', 'awaiting_review', 'generating')`, [
          task.roadmap_id,
        ]);
        return { action: 'failed' as const, task, error };
      }
      const redrive = task.redrives + 1;
      const command: WorkflowMessage['command'] = task.status === 'queued' && task.checkpoints === 0 ? 'generate' : 'resume';
      await sql(em, `UPDATE tasks SET redrives = $2, updated_at = now() WHERE id = $1`, [task.id, redrive]);
      const message: WorkflowMessage = { taskId: task.id, type: 'roadmap.generate', roadmapId: task.roadmap_id, command };
      // The API's message id with the re-drive's number: a new message despite the stream's duplicate
      // window, and still one message if this transaction is retried after a publish that went through.
      await this.publisher.publish(Subjects.workflow(task.priority, command), message, { msgId: `workflow-${command}:${task.id}:redrive-${redrive}` });
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
      // Whatever may still run for it (a hung worker) stops, as on a cancel; its writes are fenced off anyway.
      this.messaging.nc.publish(this.messaging.subject(Subjects.taskCancelled), JSON.stringify({ taskId }));
      await this.events.publish({ type: 'task.failed', taskId, error: `${STALLED_CODE}: ${result.error.message}` }, `reaper:${result.task.redrives}`);
      await this.executionLog.error(`failed by the reaper: ${result.error.message}`, { taskId, step: result.task.current_step, data: { code: STALLED_CODE } });
    }
    return result.action;
  }
}
