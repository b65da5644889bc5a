import { Inject, Injectable } from '@nestjs/common';
import { sql, TaskEntity, WorkflowCheckpointEntity } from '@roadmap/persistence';
import { timeOrderedId } from '@roadmap/runtime';
import { DataSource, type EntityManager } from 'typeorm';
import { TaskLifecycle } from '../lifecycle/task-lifecycle.js';
import type { ChildSummary, NewChild, TaskRun, WorkflowDefinition } from './definition.js';

/** A run's task and its checkpoints, in order. */
export interface LoadedRun {
  task: TaskEntity;
  checkpoints: Array<Pick<WorkflowCheckpointEntity, 'step' | 'state'>>;
}

/** A checkpoint to write. */
export interface CheckpointEntry {
  taskId: string;
  sequence: number;
  step: string;
  state: Record<string, unknown>;
  promptVersion?: string | null;
}

/** A child as created: its id and what its first message needs. */
export interface CreatedChild {
  id: string;
  type: string;
  roadmapId: string | null;
}

/**
 * The engine's access to PostgreSQL: checkpoints (it owns workflow_checkpoints) and children, every
 * task change through the lifecycle. A checkpoint is keyed by (task, sequence) and written once: a
 * repeated step never overwrites the first result, and the step's domain effect runs only with the
 * checkpoint that was actually written.
 */
@Injectable()
export class RunStore {
  constructor(
    @Inject(DataSource) private readonly dataSource: DataSource,
    @Inject(TaskLifecycle) private readonly lifecycle: TaskLifecycle,
  ) {}

  async load(taskId: string): Promise<LoadedRun | null> {
    const [task, checkpoints] = await Promise.all([
      this.dataSource.getRepository(TaskEntity).findOneBy({ id: taskId }),
      this.dataSource.getRepository(WorkflowCheckpointEntity).find({ where: { taskId }, order: { sequence: 'ASC' }, select: { step: true, state: true } }),
    ]);
    return task ? { task, checkpoints } : null;
  }

  /**
   * Writes a checkpoint and, when it is new, `effect` in the same transaction, fenced by `lease`.
   * False when the task is no longer running (cancelled meanwhile): nothing was written. Given as a
   * function, the entry is read after the effect ran (a fan-out's checkpoint says what it created).
   */
  async checkpoint(
    entry: CheckpointEntry | (() => CheckpointEntry),
    lease: number | undefined,
    effect?: (em: EntityManager) => Promise<void>,
  ): Promise<boolean> {
    const first = typeof entry === 'function' ? entry() : entry;
    return this.dataSource.transaction(async (em) => {
      if (!(await this.lifecycle.lockRunning(em, first.taskId, lease))) return false;
      // Under the task's row lock no other run writes this sequence: the effect runs only with a
      // checkpoint that is new (a repeated step never repeats its effect or its messages).
      const { rows } = await sql(em, `SELECT 1 FROM workflow_checkpoints WHERE task_id = $1 AND sequence = $2`, [first.taskId, first.sequence]);
      if (rows.length > 0) return true;
      await effect?.(em);
      const written = typeof entry === 'function' ? entry() : entry;
      await sql(em, `INSERT INTO workflow_checkpoints (task_id, sequence, step, state, prompt_version) VALUES ($1, $2, $3, $4, $5)`, [
        written.taskId,
        written.sequence,
        written.step,
        written.state,
        written.promptVersion ?? null,
      ]);
      return true;
    });
  }

  /** Runs `effect` under the run's lease, in one transaction (a fan-out's children). Null when the task stopped running. */
  async fenced<T>(taskId: string, lease: number, effect: (em: EntityManager) => Promise<T>): Promise<{ value: T } | null> {
    return this.dataSource.transaction(async (em) => {
      if (!(await this.lifecycle.lockRunning(em, taskId, lease))) return null;
      return { value: await effect(em) };
    });
  }

  /**
   * Creates a fan-out's children, once: each is (parent, index) unique, so a repeat after a crash
   * inserts only what is missing, and every child's domain rows come with it. Sets the parent's
   * progress total. `start` writes every child's (old and new) first message to the outbox in the same
   * transaction. Returns the children; null when the parent stopped running.
   */
  async createChildren(
    parent: TaskRun,
    lease: number,
    step: string,
    children: readonly NewChild[],
    definitionOf: (type: string) => WorkflowDefinition<any, any, any>,
    start: (em: EntityManager, children: CreatedChild[]) => Promise<void>,
  ): Promise<CreatedChild[] | null> {
    const created = await this.fenced(parent.id, lease, async (em) => {
      const rows = children.map((child, index) => {
        const definition = definitionOf(child.type);
        return {
          id: timeOrderedId(),
          type: child.type,
          owner: parent.owner,
          priority: parent.priority,
          input: definition.contract.input.parse(child.input),
          version: definition.contract.version,
          reviewMode: child.reviewMode ?? 'skip',
          roadmapId: definition.hasRoadmap ? timeOrderedId() : null,
          parentId: parent.id,
          childIndex: index,
        };
      });
      const inserted = new Set(await this.lifecycle.insert(em, rows));
      for (const type of new Set(rows.map((r) => r.type))) {
        const admitted = rows.filter((r) => r.type === type && inserted.has(r.id));
        if (admitted.length) await definitionOf(type).admit?.(em, admitted);
      }
      await this.lifecycle.beginFanOut(em, parent.id, step, rows.length);
      const { rows: all } = await sql<{ id: string; type: string; roadmap_id: string | null }>(
        em,
        `SELECT id, type, roadmap_id FROM tasks WHERE parent_id = $1 ORDER BY child_index`,
        [parent.id],
      );
      const created = all.map((r) => ({ id: r.id, type: r.type, roadmapId: r.roadmap_id }));
      await start(em, created);
      return created;
    });
    return created?.value ?? null;
  }

  /** Whether every child of a parent has ended, from the parent's progress (kept by the join trigger). */
  async childrenEnded(taskId: string): Promise<boolean> {
    const { rows } = await sql<{ ended: boolean }>(
      this.dataSource,
      `SELECT progress_total > 0 AND progress_done + progress_failed >= progress_total AS ended FROM tasks WHERE id = $1`,
      [taskId],
    );
    return rows[0]?.ended ?? false;
  }

  /** A task's progress as the API shows it (a parent's: its children). */
  async progress(taskId: string, em?: EntityManager): Promise<{ done: number; failed: number; total: number }> {
    const { rows } = await sql<{ done: number; failed: number; total: number }>(
      em ?? this.dataSource,
      `SELECT progress_done AS done, progress_failed AS failed, progress_total AS total FROM tasks WHERE id = $1`,
      [taskId],
    );
    return rows[0] ?? { done: 0, failed: 0, total: 0 };
  }

  async children(parentId: string, em?: EntityManager): Promise<ChildSummary[]> {
    const { rows } = await sql<{ id: string; type: string; status: ChildSummary['status']; input: unknown; roadmap_id: string | null; result: unknown }>(
      em ?? this.dataSource,
      `SELECT id, type, status, input, roadmap_id, result FROM tasks WHERE parent_id = $1 ORDER BY child_index`,
      [parentId],
    );
    return rows.map((r) => ({ id: r.id, type: r.type, status: r.status, input: r.input, roadmapId: r.roadmap_id, result: r.result }));
  }
}
