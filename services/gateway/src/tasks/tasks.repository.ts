import { Inject, Injectable } from '@nestjs/common';
import {
  AppError,
  NotFoundError,
  RoadmapGenerateType,
  type ContentKind,
  type CreateRoadmapRequest,
  type ReviewMode,
  type TaskStatus,
} from '@roadmap/contracts';
import {
  ConceptEntity,
  ContentItemEntity,
  ExecutionLogEntity,
  insertRoadmapsSql,
  RoadmapEntity,
  RoadmapRevisionEntity,
  sql,
  TaskEntity,
} from '@roadmap/persistence';
import { admitTasks, TaskLifecycle, type AdmissionOptions, type NewTask } from '@roadmap/workflow';
import { DataSource, type EntityManager } from 'typeorm';

/** One roadmap request to accept: its new ids, its caller, the validated body and its Idempotency-Key, if any. */
export interface NewRoadmapTask {
  ids: { taskId: string; roadmapId: string };
  owner: string;
  request: CreateRoadmapRequest;
  reviewMode: ReviewMode;
  idempotency?: Idempotency;
  /** The request's trace context: its workflow message continues it, whichever request's turn commits the batch. */
  trace?: Record<string, string>;
}

/** What became of one request of a batch. */
export type BatchAdmission = { outcome: 'created' } | { outcome: 'key_taken' } | { outcome: 'failed'; error: unknown };

/** The gateway's access to PostgreSQL: it creates tasks and roadmaps and reads everything else. */
@Injectable()
export class TasksRepository {
  constructor(
    @Inject(DataSource) private readonly dataSource: DataSource,
    @Inject(TaskLifecycle) private readonly lifecycle: TaskLifecycle,
  ) {}

  /**
   * Admits a roadmap task with its roadmap and its first message in one transaction, with what
   * `also` writes (its callback): the task and its message commit together.
   */
  async createRoadmapTask(
    ids: { taskId: string; roadmapId: string },
    owner: string,
    request: CreateRoadmapRequest,
    reviewMode: ReviewMode,
    idempotency?: Idempotency,
    trace?: Record<string, string>,
    also?: (em: EntityManager) => Promise<unknown>,
  ): Promise<{ task: TaskEntity; replayed: boolean }> {
    const entry: NewRoadmapTask = { ids, owner, request, reviewMode, trace };
    return this.createOne(newTask(ids, owner, request, reviewMode), { idempotency, trace, rowsSql: roadmapRowsOf([entry]), rows: also && ((em) => also(em)) });
  }

  /**
   * Admits one task (and its domain rows: `rowsSql` in the admitting statement, `rows` after it)
   * with its first message, through the lifecycle's admission, in one transaction. With an
   * Idempotency-Key already used by the same caller, answers with the first task instead.
   */
  async createOne(
    task: NewTask,
    how: { idempotency?: Idempotency; trace?: Record<string, string>; rowsSql?: AdmissionOptions['rowsSql']; rows?: (em: EntityManager, now: Date) => Promise<unknown> } = {},
  ): Promise<{ task: TaskEntity; replayed: boolean }> {
    return this.dataSource.transaction(async (em: EntityManager) => {
      if (how.idempotency) {
        const existing = await claimIdempotencyKey(em, task.owner, how.idempotency, task.id);
        if (existing) return { task: existing, replayed: true };
      }
      const rows = how.rows;
      await admitTasks(this.lifecycle, em, [task], { rowsSql: how.rowsSql, rows: rows && ((em, _, now) => rows(em, now)), traceOf: () => how.trace });
      const created = (await em.getRepository(TaskEntity).findOneBy({ id: task.id }))!;
      return { task: created, replayed: false };
    });
  }

  /**
   * Accepts many roadmap requests together (group commit): their tasks, roadmaps and held first
   * messages in one statement (`admitTasks`), with, when some carry them, their idempotency keys
   * before it and what `also` writes for the accepted ones (their callbacks) after it, all in one
   * transaction: no task without its message, and no broker round trip in the transaction. A batch
   * of plain requests (neither key nor callback: a front end's usual POST) needs no transaction,
   * and costs one round trip to PostgreSQL.
   *
   * Answers by position: `created`, or `key_taken` (its Idempotency-Key is held by another request, or
   * by an earlier entry of this batch: the caller answers it through {@link createRoadmapTask}, which
   * replays the first task or refuses a different body).
   */
  async createRoadmapTasks(
    entries: readonly NewRoadmapTask[],
    also?: (em: EntityManager, accepted: readonly NewRoadmapTask[]) => Promise<unknown>,
  ): Promise<Array<BatchAdmission>> {
    const admit = (db: DataSource | EntityManager, accepted: readonly NewRoadmapTask[]) => {
      const entry = new Map(accepted.map((e) => [e.ids.taskId, e]));
      return admitTasks(
        this.lifecycle,
        db,
        accepted.map((e) => newTask(e.ids, e.owner, e.request, e.reviewMode)),
        { rowsSql: roadmapRowsOf(accepted), traceOf: (task) => entry.get(task.id)!.trace },
      );
    };
    if (entries.every((e) => !e.idempotency && !e.request.callbackUrl)) {
      await admit(this.dataSource, entries);
      return entries.map(() => ({ outcome: 'created' }));
    }
    return this.dataSource.transaction(async (em: EntityManager) => {
      const answers: BatchAdmission[] = entries.map(() => ({ outcome: 'created' }));
      const keyed = entries.map((e, i) => ({ e, i })).filter(({ e }) => e.idempotency);
      if (keyed.length > 0) {
        const owners = keyed.map(({ e }) => e.owner);
        const keys = keyed.map(({ e }) => e.idempotency!.key);
        await sql(
          em,
          `DELETE FROM idempotency_keys k USING unnest($1::text[], $2::text[], $3::float8[]) AS x(owner, key, window_secs)
            WHERE k.owner = x.owner AND k.key = x.key AND k.created_at < now() - make_interval(secs => x.window_secs)`,
          [owners, keys, keyed.map(({ e }) => e.idempotency!.windowMs / 1000)],
        );
        const { rows } = await sql<{ task_id: string }>(
          em,
          `INSERT INTO idempotency_keys (owner, key, task_id, request_hash)
           SELECT * FROM unnest($1::text[], $2::text[], $3::uuid[], $4::text[])
           ON CONFLICT (owner, key) DO NOTHING RETURNING task_id`,
          [owners, keys, keyed.map(({ e }) => e.ids.taskId), keyed.map(({ e }) => e.idempotency!.requestHash)],
        );
        const claimed = new Set(rows.map((r) => r.task_id));
        for (const { e, i } of keyed) if (!claimed.has(e.ids.taskId)) answers[i] = { outcome: 'key_taken' };
      }
      const accepted = entries.filter((_, i) => answers[i]!.outcome === 'created');
      if (accepted.length > 0) {
        await admit(em, accepted);
        await also?.(em, accepted);
      }
      return answers;
    });
  }

  /** A task, restricted to `owner` when given (another owner's task is not found). */
  findTask(id: string, owner?: string): Promise<TaskEntity | null> {
    return this.dataSource.getRepository(TaskEntity).findOneBy(owner === undefined ? { id } : { id, owner });
  }

  async findRoadmap(id: string, owner?: string): Promise<{ roadmap: RoadmapEntity; concepts: ConceptEntity[]; items: ContentItemEntity[] } | null> {
    const roadmap = await this.findRoadmapRow(id, owner);
    if (!roadmap) return null;
    const [concepts, items] = await Promise.all([
      this.dataSource.getRepository(ConceptEntity).find({ where: { roadmapId: id }, order: { stageIndex: 'ASC', position: 'ASC' } }),
      this.dataSource.getRepository(ContentItemEntity).find({ where: { roadmapId: id } }),
    ]);
    return { roadmap, concepts, items };
  }

  /** A page of a task's execution logs in time order, after a (created_at, id) cursor. */
  async findLogs(taskId: string, after: { at: Date; id: string } | null, limit: number, levels?: readonly string[]): Promise<ExecutionLogEntity[]> {
    const query = this.dataSource
      .getRepository(ExecutionLogEntity)
      .createQueryBuilder('log')
      .where('log.task_id = :taskId', { taskId })
      .orderBy('log.created_at', 'ASC')
      .addOrderBy('log.id', 'ASC')
      .limit(limit);
    if (after) query.andWhere('(log.created_at, log.id) > (:at, :id)', { at: after.at, id: after.id });
    if (levels) query.andWhere('log.level IN (:...levels)', { levels });
    return query.getMany();
  }

  /** A roadmap's row for a person's action, locked with its task for the rest of the transaction. */
  async lockRoadmap(em: EntityManager, roadmapId: string, owner?: string): Promise<RoadmapEntity> {
    const roadmap = await em
      .getRepository(RoadmapEntity)
      .findOne({ where: owner === undefined ? { id: roadmapId } : { id: roadmapId, owner }, lock: { mode: 'pessimistic_write' } });
    if (!roadmap) throw new NotFoundError('Roadmap', roadmapId);
    return roadmap;
  }

  /** Tasks of an owner (every owner's when undefined), newest first, after a (created_at, id) cursor. */
  async listTasks(
    owner: string | undefined,
    filters: { status?: TaskStatus; type?: string; parentId?: string; createdAfter?: Date; createdBefore?: Date },
    after: { at: Date; id: string } | null,
    limit: number,
  ): Promise<TaskEntity[]> {
    const query = this.dataSource
      .getRepository(TaskEntity)
      .createQueryBuilder('t')
      .where(owner === undefined ? 'TRUE' : 't.owner = :owner', owner === undefined ? {} : { owner })
      .orderBy('t.created_at', 'DESC')
      .addOrderBy('t.id', 'DESC')
      .limit(limit);
    if (filters.status) query.andWhere('t.status = :status', { status: filters.status });
    if (filters.type) query.andWhere('t.type = :type', { type: filters.type });
    if (filters.parentId) query.andWhere('t.parent_id = :parentId', { parentId: filters.parentId });
    if (filters.createdAfter) query.andWhere('t.created_at >= :createdAfter', { createdAfter: filters.createdAfter });
    if (filters.createdBefore) query.andWhere('t.created_at < :createdBefore', { createdBefore: filters.createdBefore });
    if (after) query.andWhere('(t.created_at, t.id) < (:at, :id)', { at: after.at, id: after.id });
    return query.getMany();
  }

  /** How many children a task has in each state (a batch's roadmaps). */
  async childCounts(taskId: string): Promise<Record<string, number>> {
    const { rows } = await sql<{ status: string; n: number }>(this.dataSource, `SELECT status, count(*)::int AS n FROM tasks WHERE parent_id = $1 GROUP BY status`, [taskId]);
    return Object.fromEntries(rows.map((r) => [r.status, r.n]));
  }

  /** Per concept, the state of each kind of item: the polling view of a task's content. */
  async itemStates(roadmapId: string): Promise<Array<{ id: string; slug: string; title: string; kind: ContentKind; status: string }>> {
    const { rows } = await sql<{ id: string; slug: string; title: string; kind: ContentKind; status: string }>(
      this.dataSource,
      `SELECT c.id, c.slug, c.title, i.kind, i.status FROM concepts c JOIN content_items i ON i.concept_id = c.id
        WHERE c.roadmap_id = $1 ORDER BY c.stage_index, c.position, i.kind`,
      [roadmapId],
    );
    return rows;
  }

  findRevisions(roadmapId: string): Promise<RoadmapRevisionEntity[]> {
    return this.dataSource.getRepository(RoadmapRevisionEntity).find({ where: { roadmapId }, order: { revision: 'ASC' } });
  }

  /** A roadmap row, restricted to `owner` when given. */
  findRoadmapRow(roadmapId: string, owner?: string): Promise<RoadmapEntity | null> {
    return this.dataSource.getRepository(RoadmapEntity).findOneBy(owner === undefined ? { id: roadmapId } : { id: roadmapId, owner });
  }
}

/** An Idempotency-Key with the hash of its request and how long it holds. */
export interface Idempotency {
  key: string;
  requestHash: string;
  windowMs: number;
}

/**
 * Claims an owner's Idempotency-Key for a new task. The insert waits on a concurrent request with the
 * same key until it commits; then this one sees the key taken and gets the first task back (null:
 * the key is this task's now). The same key with another request body is a 422.
 */
async function claimIdempotencyKey(em: EntityManager, owner: string, idempotency: Idempotency, taskId: string): Promise<TaskEntity | null> {
  await sql(em, `DELETE FROM idempotency_keys WHERE owner = $1 AND key = $2 AND created_at < now() - make_interval(secs => $3)`, [
    owner,
    idempotency.key,
    idempotency.windowMs / 1000,
  ]);
  const claimed = await sql(
    em,
    `INSERT INTO idempotency_keys (owner, key, task_id, request_hash) VALUES ($1, $2, $3, $4) ON CONFLICT (owner, key) DO NOTHING`,
    [owner, idempotency.key, taskId, idempotency.requestHash],
  );
  if (claimed.count > 0) return null;
  const { rows } = await sql<{ task_id: string; request_hash: string }>(em, `SELECT task_id, request_hash FROM idempotency_keys WHERE owner = $1 AND key = $2`, [
    owner,
    idempotency.key,
  ]);
  const first = rows[0];
  if (first && first.request_hash !== idempotency.requestHash) {
    throw new AppError('IDEMPOTENCY_KEY_REUSED', 'This Idempotency-Key was used with a different request body', {
      status: 422,
      details: [{ field: 'Idempotency-Key', message: 'already used for another request' }],
    });
  }
  return first ? em.getRepository(TaskEntity).findOneBy({ id: first.task_id }) : null;
}

/** A roadmap task's row (its roadmap row goes with it). */
/** The roadmap rows of roadmap requests, as a part of their admitting statement. */
function roadmapRowsOf(entries: readonly NewRoadmapTask[]): AdmissionOptions['rowsSql'] {
  return (params, _tasks, now, admitted) =>
    insertRoadmapsSql(
      params,
      entries.map((e) => ({ id: e.ids.roadmapId, taskId: e.ids.taskId, owner: e.owner, goal: e.request.goal, preferences: e.request.preferences })),
      now,
      admitted,
    );
}

function newTask(ids: { taskId: string; roadmapId: string }, owner: string, request: CreateRoadmapRequest, reviewMode: ReviewMode): NewTask {
  const { callbackUrl: _callback, ...input } = request; // the callback is a webhook row, not the workflow's input
  return {
    id: ids.taskId,
    type: RoadmapGenerateType.type,
    owner,
    priority: request.priority,
    input,
    version: RoadmapGenerateType.version,
    reviewMode,
    roadmapId: ids.roadmapId,
  };
}
