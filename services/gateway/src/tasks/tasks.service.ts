import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import {
  LOG_LEVELS,
  NotFoundError,
  RoadmapGenerateType,
  TASK_STATUSES,
  UnavailableError,
  ValidationError,
  type CreateRoadmapRequest,
  type LogLevel,
  type RetryItemsRequest,
  type ReviewRequest,
  type TaskStatus,
  type WorkflowMessage,
} from '@roadmap/contracts';
import { captureTraceContext, Messaging } from '@roadmap/messaging';
import { counter } from '@roadmap/observability';
import type { TaskEntity } from '@roadmap/persistence';
import { Batcher, timeOrderedId } from '@roadmap/runtime';
import { FairDispatcher, Outbox, TaskActions, taskEvent, workflowMessage } from '@roadmap/workflow';
import type { EntityManager } from 'typeorm';
import { TaskCallbacks } from '../webhooks/task-callbacks.js';
import { diffFrameworks } from './revision-diff.js';
import { llmCallView, logView, roadmapView, sumUsage, taskLinks, taskView, usd } from './task-views.js';
import { TASKS_OPTIONS, type TasksOptions } from './tasks.options.js';
import { TasksRepository, type BatchAdmission, type NewRoadmapTask } from './tasks.repository.js';
import { UsageRepository, type LlmUsageTotals } from './usage.repository.js';

const tasksAccepted = counter('roadmap_tasks_accepted_total', 'Tasks accepted by the API', ['type', 'priority']);
const actions = counter('roadmap_task_actions_total', 'Actions people took on tasks', ['action']);

/** How long an Idempotency-Key keeps returning the first task. */
const IDEMPOTENCY_WINDOW_MS = 24 * 60 * 60 * 1000;
/** Transactions accepting roadmap requests at once, each holding one pooled connection (DATABASE_POOL_SIZE is 10 by default). */
const ADMISSION_TRANSACTIONS = 2;

/**
 * `scope` below is the owner a lookup is restricted to (the caller's own for a `user`, undefined for
 * an `admin`): another owner's task or roadmap is a 404, the same answer as one that does not exist.
 */
type OwnerScope = string | undefined;

/**
 * The API's use cases. A person's action is a state transition checked and made under the task's row
 * lock, with its message written to the outbox in the same transaction: a 409 is exact (two
 * concurrent reviews cannot both pass), and the message exists exactly when the transition committed
 * (the relay publishes it after the commit).
 */
@Injectable()
export class TasksService {
  constructor(
    @Inject(TasksRepository) private readonly repository: TasksRepository,
    @Inject(Messaging) private readonly messaging: Messaging,
    @Inject(TASKS_OPTIONS) private readonly options: TasksOptions,
    @Inject(UsageRepository) private readonly usage: UsageRepository,
    @Inject(TaskCallbacks) private readonly callbacks: TaskCallbacks,
    @Inject(FairDispatcher) private readonly dispatcher: Pick<FairDispatcher, 'request'>,
    @Inject(TaskActions) private readonly taskActions: TaskActions,
  ) {
    // Requests arriving together share one transaction and one commit (their messages go to the
    // outbox in one statement, no broker round trip inside the transaction).
    this.admissions = new Batcher((entries) => this.admit(entries), { name: 'roadmap_admission', maxBatch: 100, maxInFlight: ADMISSION_TRANSACTIONS });
  }

  private readonly admissions: Batcher<NewRoadmapTask, BatchAdmission>;

  /**
   * Accepts a roadmap request: task row, roadmap row and workflow message together. With an
   * Idempotency-Key, the same key from the same caller within 24 h returns the first task. Requests
   * that arrive together are accepted together, in one transaction (group commit, see admit()).
   */
  async createRoadmap(owner: string, request: CreateRoadmapRequest, idempotencyKey?: string) {
    this.assertQueueReachable();
    if (request.callbackUrl) await this.callbacks.check(owner, request.callbackUrl);
    // Time-ordered ids keep the tasks index append-mostly and make cursors sort by creation.
    const entry: NewRoadmapTask = {
      ids: { taskId: timeOrderedId(), roadmapId: timeOrderedId() },
      owner,
      request,
      reviewMode: request.review ?? this.options.reviewDefault,
      trace: captureTraceContext(),
      ...(idempotencyKey && {
        idempotency: { key: idempotencyKey, requestHash: createHash('sha256').update(JSON.stringify(request)).digest('hex'), windowMs: IDEMPOTENCY_WINDOW_MS },
      }),
    };
    const admission = await this.admissions.submit(entry);
    if (admission.outcome === 'failed') throw admission.error;
    let task: Pick<TaskEntity, 'id' | 'roadmapId' | 'status' | 'reviewMode' | 'type' | 'priority'> = {
      id: entry.ids.taskId,
      roadmapId: entry.ids.roadmapId,
      status: 'queued',
      reviewMode: entry.reviewMode,
      type: RoadmapGenerateType.type,
      priority: request.priority,
    };
    let replayed = false;
    if (admission.outcome === 'key_taken') ({ task, replayed } = await this.createOne(entry));
    if (!replayed) tasksAccepted.inc({ type: task.type, priority: task.priority });
    return {
      replayed,
      body: { taskId: task.id, roadmapId: task.roadmapId, status: task.status, reviewMode: task.reviewMode, links: taskLinks(task.id, task.roadmapId!) },
    };
  }

  /**
   * Accepts a batch of requests in one transaction; a batch refused for a bad value (a data error
   * from PostgreSQL) is taken again one request at a time, so only the request at fault fails.
   */
  private async admit(entries: NewRoadmapTask[]): Promise<BatchAdmission[]> {
    try {
      const admitted = await this.repository.createRoadmapTasks(entries, (em, accepted) => this.callbacksOf(em, accepted));
      this.releaseStarts(entries.map((e) => e.request.priority));
      return admitted;
    } catch (error) {
      if (entries.length === 1 || !isDataError(error)) throw error;
      return Promise.all(
        entries.map(async (e): Promise<BatchAdmission> => {
          try {
            const { replayed } = await this.createOne(e);
            return replayed ? { outcome: 'key_taken' } : { outcome: 'created' };
          } catch (single) {
            return { outcome: 'failed', error: single };
          }
        }),
      );
    }
  }

  /** One request in its own transaction: the path of an Idempotency-Key already taken (replay or 422). */
  private async createOne(entry: NewRoadmapTask) {
    const created = await this.repository.createRoadmapTask(entry.ids, entry.owner, entry.request, entry.reviewMode, entry.idempotency, entry.trace, (em) =>
      this.callbacksOf(em, [entry]),
    );
    this.releaseStarts([entry.request.priority]);
    return created;
  }

  /** After the commit that held new tasks' first commands: release what fits their owners' windows. */
  releaseStarts(priorities: ReadonlyArray<TaskEntity['priority']>): void {
    for (const priority of new Set(priorities)) this.dispatcher.request(priority, 'workflow');
  }

  /** What accepted requests commit with their tasks besides their admission: their callbacks. */
  private async callbacksOf(em: EntityManager, accepted: readonly NewRoadmapTask[]): Promise<void> {
    await TaskCallbacks.insert(
      em,
      accepted.filter((e) => e.request.callbackUrl).map((e) => ({ taskId: e.ids.taskId, owner: e.owner, url: e.request.callbackUrl! })),
    );
  }

  /**
   * New work is refused (503, Retry-After) while this gateway cannot reach NATS: the outbox would
   * hold its message until NATS is back, but a client is better told to come back than left with a
   * task that waits for an outage of unknown length (and /readyz says the same).
   */
  assertQueueReachable(): void {
    if (!this.messaging.isConnected()) throw new UnavailableError('NATS is not connected: new work cannot be queued now');
  }

  async getTask(id: string, scope: OwnerScope) {
    const task = await this.repository.findTask(id, scope);
    if (!task) throw new NotFoundError('Task', id);
    const [states, usageRows, children] = await Promise.all([
      task.roadmapId ? this.repository.itemStates(task.roadmapId) : Promise.resolve([]),
      this.usage.usageBySubject(task.id),
      this.repository.childCounts(task.id),
    ]);
    const usageBySubject = new Map(usageRows.map(({ subject, ...usage }) => [subject, { ...usage, costUsd: usd(usage.costUsd) }]));
    const concepts = new Map<string, { id: string; slug: string; title: string; items: Record<string, string>; usage: Record<string, LlmUsageTotals> }>();
    for (const row of states) {
      const concept = concepts.get(row.id) ?? { id: row.id, slug: row.slug, title: row.title, items: {}, usage: {} };
      concept.items[row.kind] = row.status;
      concept.usage[row.kind] = usageBySubject.get(`${row.id}:${row.kind}`) ?? { inputTokens: 0, outputTokens: 0, costUsd: 0, calls: 0 };
      concepts.set(row.id, concept);
    }
    const childTotal = Object.values(children).reduce((a, b) => a + b, 0);
    return {
      ...taskView(task),
      usage: sumUsage(usageRows),
      concepts: [...concepts.values()],
      children: childTotal === 0 ? null : { total: childTotal, ...Object.fromEntries(TASK_STATUSES.map((s) => [s, children[s] ?? 0])) },
    };
  }

  /** A task's recorded LLM calls, oldest first; prompts and responses only with `includeContent`. */
  async getLlmCalls(taskId: string, scope: OwnerScope, query: { subject?: string; cursor?: string; limit: number; includeContent: boolean }) {
    const task = await this.repository.findTask(taskId, scope);
    if (!task) throw new NotFoundError('Task', taskId);
    const calls = await this.usage.findLlmCalls(
      taskId,
      { subject: query.subject },
      query.cursor ? decodeCursor(query.cursor) : null,
      query.limit,
      query.includeContent,
    );
    const last = calls.at(-1);
    return {
      items: calls.map((call) => llmCallView(call, query.includeContent)),
      nextCursor: calls.length === query.limit && last ? encodeCursor(last.startedAt, last.id) : null,
    };
  }

  /** One recorded LLM call of a task, with its rendered prompt and response. */
  async getLlmCall(taskId: string, callId: string, scope: OwnerScope) {
    const task = await this.repository.findTask(taskId, scope);
    if (!task) throw new NotFoundError('Task', taskId);
    const call = await this.usage.findLlmCall(taskId, callId);
    if (!call) throw new NotFoundError('LLM call', callId);
    return llmCallView(call, true);
  }

  /** An owner's LLM usage per UTC day between two days (inclusive), with a per-model breakdown. */
  async getUsage(owner: string, from: string, to: string) {
    const rows = await this.usage.usagePerDay(owner, from, to);
    const days = new Map<string, { day: string; models: Array<{ provider: string; model: string } & LlmUsageTotals> }>();
    for (const { day, ...model } of rows) {
      const entry = days.get(day) ?? { day, models: [] };
      entry.models.push({ ...model, costUsd: usd(model.costUsd) });
      days.set(day, entry);
    }
    return {
      owner,
      from,
      to,
      total: sumUsage(rows),
      days: [...days.values()].map((d) => ({ day: d.day, ...sumUsage(d.models), models: d.models })),
    };
  }

  async listTasks(
    scope: OwnerScope,
    query: { status?: TaskStatus; type?: string; parentId?: string; createdAfter?: string; createdBefore?: string; cursor?: string; limit: number },
  ) {
    const filters = {
      status: query.status,
      type: query.type,
      parentId: query.parentId,
      createdAfter: query.createdAfter ? new Date(query.createdAfter) : undefined,
      createdBefore: query.createdBefore ? new Date(query.createdBefore) : undefined,
    };
    const tasks = await this.repository.listTasks(scope, filters, query.cursor ? decodeCursor(query.cursor) : null, query.limit);
    const last = tasks.at(-1);
    return { items: tasks.map(taskView), nextCursor: tasks.length === query.limit && last ? encodeCursor(last.createdAt, last.id) : null };
  }

  async getRoadmap(id: string, scope: OwnerScope) {
    const found = await this.repository.findRoadmap(id, scope);
    if (!found) throw new NotFoundError('Roadmap', id);
    return roadmapView(found.roadmap, found.concepts, found.items);
  }

  async getLogs(taskId: string, scope: OwnerScope, cursor: string | undefined, limit: number, level?: LogLevel) {
    const task = await this.repository.findTask(taskId, scope);
    if (!task) throw new NotFoundError('Task', taskId);
    const levels = level ? LOG_LEVELS.slice(LOG_LEVELS.indexOf(level)) : undefined;
    const entries = await this.repository.findLogs(taskId, cursor ? decodeCursor(cursor) : null, limit, levels);
    const last = entries.at(-1);
    return { items: entries.map(logView), nextCursor: entries.length === limit && last ? encodeCursor(last.createdAt, last.id) : null };
  }

  /** Every framework version, each with what changed since the one before. */
  async getRevisions(roadmapId: string, scope: OwnerScope) {
    const roadmap = await this.repository.findRoadmapRow(roadmapId, scope);
    if (!roadmap) throw new NotFoundError('Roadmap', roadmapId);
    const revisions = await this.repository.findRevisions(roadmapId);
    return {
      roadmapId,
      currentRevision: roadmap.currentRevision,
      items: revisions.map((r, i) => ({
        revision: r.revision,
        source: r.source,
        feedback: r.feedback,
        requestedBy: r.requestedBy,
        createdAt: r.createdAt.toISOString(),
        concepts: r.framework.stages.reduce((n, s) => n + s.concepts.length, 0),
        changes: diffFrameworks(revisions[i - 1]?.framework ?? null, r.framework),
        framework: r.framework,
      })),
    };
  }

  /** approve: content generation starts; revise: the edit step applies the feedback, then review again. */
  async review(roadmapId: string, scope: OwnerScope, by: string, request: ReviewRequest) {
    const roadmap = await this.repository.findRoadmapRow(roadmapId, scope);
    if (!roadmap) throw new NotFoundError('Roadmap', roadmapId);
    const review: NonNullable<WorkflowMessage['review']> =
      request.decision === 'approve'
        ? { decision: 'approve', by, revision: roadmap.currentRevision }
        : { decision: 'revise', feedback: request.feedback, by, revision: roadmap.currentRevision };
    const task = await this.taskActions.transition(
      roadmap.taskId,
      ['awaiting_review'],
      'running',
      'reviewed (it is not awaiting a review)',
      (t, em) =>
        Outbox.add(em, [
          taskEvent({ type: 'review.submitted', taskId: t.id, decision: request.decision }, `review:${roadmap.currentRevision}`),
          workflowMessage(t.priority, { taskId: t.id, type: t.type, roadmapId, command: 'review', review }, `workflow-review:${t.id}:${roadmap.currentRevision}`),
        ]),
      scope,
    );
    actions.inc({ action: `review_${request.decision}` });
    return { taskId: task.id, roadmapId, status: 'running' as const, decision: request.decision, revision: roadmap.currentRevision, links: taskLinks(task.id, roadmapId) };
  }

  /** A failed or cancelled task continues from its checkpoints; completed items are kept. */
  async resume(taskId: string, scope: OwnerScope) {
    const task = await this.taskActions.resume(taskId, { owner: scope });
    actions.inc({ action: 'resume' });
    return { taskId, status: 'queued' as const, links: taskLinks(taskId, task.roadmapId) };
  }

  /**
   * Ends a task as cancelled. Workers abort its LLM calls in flight (a core NATS notice), skip and
   * ack its queued messages, and write nothing more for it. Cancelling twice is harmless.
   */
  async cancel(taskId: string, scope: OwnerScope, reason?: { code: string; message: string }) {
    if (await this.taskActions.cancel(taskId, { owner: scope, reason })) actions.inc({ action: 'cancel' });
    return this.getTask(taskId, scope);
  }

  /** Regenerates a concept's items of the given kinds (the old content stays until the new lands). */
  async retryItems(roadmapId: string, conceptId: string, scope: OwnerScope, request: RetryItemsRequest) {
    const { task, items } = await this.taskActions.retryItems(roadmapId, conceptId, request.kinds, scope);
    actions.inc({ action: 'retry_items' });
    return { taskId: task.id, roadmapId, conceptId, kinds: items.map((i) => i.kind), status: 'running' as const, links: taskLinks(task.id, roadmapId) };
  }
}


function encodeCursor(at: Date, id: string): string {
  return Buffer.from(`${at.toISOString()}|${id}`).toString('base64url');
}

function decodeCursor(cursor: string): { at: Date; id: string } {
  const [at, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  const date = new Date(at ?? '');
  if (!id || Number.isNaN(date.getTime()) || !/^[0-9a-f-]{36}$/.test(id)) {
    throw new ValidationError('cursor is not one this API returned', [{ field: 'cursor', message: 'invalid cursor' }]);
  }
  return { at: date, id };
}

/** A PostgreSQL data or constraint error (SQLSTATE class 22 or 23): the values, not the database, are at fault. */
function isDataError(error: unknown): boolean {
  const code = (error as { code?: unknown; driverError?: { code?: unknown } })?.driverError?.code ?? (error as { code?: unknown })?.code;
  return typeof code === 'string' && /^2[23]/.test(code);
}
