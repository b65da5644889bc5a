import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import {
  ConflictError,
  CONTENT_STEP,
  NotFoundError,
  Subjects,
  type ContentGenerateMessage,
  type ContentKind,
  type TaskStatus,
  type WorkflowMessage,
} from '@roadmap/contracts';
import { ConceptEntity, ContentItemEntity, RoadmapEntity, sql, TaskEntity, type StoredError } from '@roadmap/persistence';
import { DataSource, type EntityManager } from 'typeorm';
import { TaskLifecycle } from '../lifecycle/task-lifecycle.js';
import { Outbox, type OutboxMessage } from '../outbox/outbox.js';
import { cancelMessages, taskEvent } from '../outbox/task-messages.js';

/** Extra writes that commit with an action (a bulk task records the item's outcome there). */
export type AlsoInTransaction = (em: EntityManager, task: TaskEntity) => Promise<unknown>;

/** A workflow command for the outbox, keyed by its logical id (`workflow-generate:<task>`). */
export function workflowMessage(priority: TaskEntity['priority'], message: WorkflowMessage, key: string): OutboxMessage {
  return { subject: Subjects.workflow(priority, message.command), payload: message, key, taskId: message.taskId };
}

/**
 * A person's actions on a task (cancel, resume, regenerate items), one implementation for every
 * process that takes them: the gateway's single-task API and the workflow worker's bulk task. Each
 * is a transition made under the task's row lock with its messages written to the outbox in the same
 * transaction (they exist exactly when it committed); `owner` restricts it to one owner's task
 * (another's is a 404, like one that does not exist).
 */
@Injectable()
export class TaskActions {
  constructor(
    @Inject(DataSource) private readonly dataSource: DataSource,
    @Inject(TaskLifecycle) private readonly lifecycle: TaskLifecycle,
  ) {}

  /**
   * Moves a task from one of `from` to `to` under its row lock, with its roadmap's status, and runs
   * `then` in the same transaction. A task in another state is a 409 naming it; an unknown one a
   * 404. Returns the task as it was before.
   */
  async transition(
    taskId: string,
    from: readonly TaskStatus[],
    to: TaskStatus,
    action: string,
    then: (task: TaskEntity, em: EntityManager) => Promise<unknown>,
    owner?: string,
    reason?: StoredError,
  ): Promise<TaskEntity> {
    return this.dataSource.transaction(async (em) => {
      const task = await this.lifecycle.act(em, taskId, from, to, action, owner, reason);
      if (to === 'cancelled') {
        await sql(em, `UPDATE roadmaps SET status = 'cancelled', updated_at = now() WHERE task_id = $1 AND status NOT IN ('completed', 'failed')`, [taskId]);
      } else if (to === 'queued' && task.roadmapId) {
        await sql(
          em,
          `UPDATE roadmaps SET status = CASE WHEN items_total > 0 THEN 'generating' ELSE 'designing' END, completed_at = NULL, updated_at = now() WHERE id = $1`,
          [task.roadmapId],
        );
      }
      await then(task, em);
      return task;
    });
  }

  /**
   * Ends a task as cancelled, with its unfinished children. Workers abort its LLM calls in flight (a
   * core NATS notice), skip and ack its queued messages, and write nothing more for it. False when it
   * was cancelled already (harmless); a 409 when it ended otherwise, a 404 when there is none.
   */
  async cancel(taskId: string, options: { owner?: string; reason?: StoredError } = {}): Promise<boolean> {
    if ((await this.cancelMany([taskId], options)).length > 0) return true;
    const task = await this.dataSource.getRepository(TaskEntity).findOneBy(options.owner === undefined ? { id: taskId } : { id: taskId, owner: options.owner });
    if (!task) throw new NotFoundError('Task', taskId);
    if (task.status === 'cancelled') return false;
    throw new ConflictError(`Task ${taskId} is ${task.status}: it cannot be cancelled (it already ended)`);
  }

  /**
   * Cancels those of `taskIds` that have not ended, with their roadmaps and unfinished children, in
   * one transaction (`also` commits with it, given the ids cancelled), with the notice that tells the
   * workers and the `task.cancelled` event of each in its outbox. Returns the ids cancelled. One
   * cancel or an operator's bulk cancel.
   */
  async cancelMany(taskIds: readonly string[], options: { owner?: string; reason?: StoredError; also?: (em: EntityManager, cancelled: string[]) => Promise<unknown> } = {}): Promise<string[]> {
    return this.dataSource.transaction(async (em) => {
      const cancelled = await this.lifecycle.cancelMany(em, taskIds, options.reason, options.owner);
      if (cancelled.length === 0) return cancelled;
      await sql(em, `UPDATE roadmaps SET status = 'cancelled', updated_at = now() WHERE task_id = ANY($1::uuid[]) AND status NOT IN ('completed', 'failed')`, [cancelled]);
      const children = await this.lifecycle.cancelChildren(em, cancelled);
      // Only one cancel of a task commits (the transition is guarded), so the time names it.
      await Outbox.add(em, cancelMessages([...cancelled, ...children], `cancelled:${Date.now()}`));
      await options.also?.(em, cancelled);
      return cancelled;
    });
  }

  /** A failed or cancelled task continues from its checkpoints; completed items are kept. */
  async resume(taskId: string, options: { owner?: string; also?: AlsoInTransaction } = {}): Promise<TaskEntity> {
    return this.transition(
      taskId,
      ['failed', 'cancelled'],
      'queued',
      'resumed (only a failed or cancelled task can be)',
      async (t, em) => {
        await Outbox.add(em, [
          workflowMessage(
            t.priority,
            { taskId: t.id, type: t.type, ...(t.roadmapId && { roadmapId: t.roadmapId }), command: 'resume' },
            `workflow-resume:${t.id}:${randomUUID()}`,
          ),
        ]);
        await options.also?.(em, t);
      },
      options.owner,
    );
  }

  /**
   * Regenerates a concept's items of the given kinds (the old content stays until the new lands).
   * 409 when one is still being generated, or the task is not in a state that allows it.
   */
  async retryItems(roadmapId: string, conceptId: string, kinds: readonly ContentKind[], owner?: string) {
    return this.regenerate(roadmapId, owner, async (em) => {
      const concept = await em.getRepository(ConceptEntity).findOneBy({ id: conceptId, roadmapId });
      if (!concept) throw new NotFoundError('Concept', conceptId);
      const current = await em.getRepository(ContentItemEntity).find({ where: kinds.map((kind) => ({ roadmapId, conceptId, kind })), lock: { mode: 'pessimistic_write' } });
      if (current.length !== kinds.length) throw new ConflictError(`Concept ${conceptId} has no generated content yet`);
      const busy = current.filter((i) => i.status === 'pending' || i.status === 'running');
      if (busy.length > 0) throw new ConflictError(`${busy.map((i) => i.kind).join(', ')} of concept ${conceptId} is being generated`);
      return current;
    });
  }

  /**
   * Regenerates every failed item of a task's roadmap, in one transaction. False when it has none
   * (nothing to do); a 409 when the task is not in a state that allows it.
   */
  async retryFailedItems(taskId: string, also?: AlsoInTransaction): Promise<boolean> {
    const task = await this.dataSource.getRepository(TaskEntity).findOneBy({ id: taskId });
    if (!task) throw new NotFoundError('Task', taskId);
    if (!task.roadmapId) return false;
    const { items } = await this.regenerate(
      task.roadmapId,
      undefined,
      (em) => em.getRepository(ContentItemEntity).find({ where: { roadmapId: task.roadmapId!, status: 'failed' }, lock: { mode: 'pessimistic_write' } }),
      also,
    );
    return items.length > 0;
  }

  /**
   * Puts the items `pick` chooses back to pending with a new generation, moves the counters back,
   * reopens the task and roadmap and writes their messages and `item.retrying` events to the outbox,
   * in one transaction.
   */
  private async regenerate(roadmapId: string, owner: string | undefined, pick: (em: EntityManager) => Promise<ContentItemEntity[]>, also?: AlsoInTransaction) {
    const { task, items, progress } = await this.dataSource.transaction(async (em) => {
      const roadmap = await em.getRepository(RoadmapEntity).findOne({ where: owner === undefined ? { id: roadmapId } : { id: roadmapId, owner }, lock: { mode: 'pessimistic_write' } });
      if (!roadmap) throw new NotFoundError('Roadmap', roadmapId);
      const task = await em.getRepository(TaskEntity).findOne({ where: { id: roadmap.taskId }, lock: { mode: 'pessimistic_write' } });
      if (!task) throw new NotFoundError('Task', roadmap.taskId);
      if (!['running', 'completed', 'failed'].includes(task.status)) throw new ConflictError(`Task ${task.id} is ${task.status}: resume it before retrying items`);
      const current = await pick(em);
      if (current.length === 0) return { task, items: [], progress: { done: task.progressDone, failed: task.progressFailed, total: task.progressTotal } };
      const done = current.filter((i) => i.status === 'completed').length;
      const failed = current.filter((i) => i.status === 'failed').length;
      const { rows } = await sql<{ concept_id: string; kind: ContentKind; generation: number }>(
        em,
        `UPDATE content_items SET status = 'pending', generation = generation + 1, attempts = 0, error = NULL, updated_at = now()
          WHERE id = ANY($1::uuid[]) RETURNING concept_id, kind, generation`,
        [current.map((i) => i.id)],
      );
      await sql(
        em,
        `UPDATE roadmaps SET items_done = items_done - $2, items_failed = items_failed - $3, status = 'generating', completed_at = NULL, updated_at = now() WHERE id = $1`,
        [roadmapId, done, failed],
      );
      await this.lifecycle.reopenForItems(em, task.id, done, failed, CONTENT_STEP);
      const items = rows.map((r) => ({ conceptId: r.concept_id, kind: r.kind, generation: r.generation }));
      // The task row as reopenForItems left it (read under its lock above, moved back by these items).
      const progress = { done: task.progressDone - done, failed: task.progressFailed - failed, total: task.progressTotal };
      await Outbox.add(
        em,
        items.flatMap((item) => [
          taskEvent({ type: 'item.retrying', taskId: task.id, conceptId: item.conceptId, kind: item.kind, progress }, `${item.conceptId}:${item.kind}:${item.generation}`),
          {
            subject: Subjects.contentGenerate(task.priority, item.kind),
            payload: { taskId: task.id, roadmapId, conceptId: item.conceptId, kind: item.kind, priority: task.priority, generation: item.generation } satisfies ContentGenerateMessage,
            key: `content-generate:${roadmapId}:${item.conceptId}:${item.kind}:${item.generation}`,
            taskId: task.id,
          },
        ]),
      );
      await also?.(em, task);
      return { task, items, progress };
    });
    return { task, items, progress };
  }
}
