import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { AppError, NotFoundError, RoadmapGenerateType, type CreateTaskRequest, type RoadmapInput } from '@roadmap/contracts';
import { counter } from '@roadmap/observability';
import { timeOrderedId } from '@roadmap/runtime';
import { Outbox, TaskActions, workflowMessage } from '@roadmap/workflow';
import { TaskCallbacks } from '../webhooks/task-callbacks.js';
import { taskLinks, sumUsage } from './task-views.js';
import { TaskTypes } from './task-types.js';
import { TASKS_OPTIONS, type TasksOptions } from './tasks.options.js';
import { TasksRepository } from './tasks.repository.js';
import { TasksService } from './tasks.service.js';
import { UsageRepository } from './usage.repository.js';

const accepted = counter('roadmap_task_api_accepted_total', 'Tasks accepted through POST /api/v1/tasks, by type', ['type']);

/** How long an Idempotency-Key keeps returning the first task (as on /roadmaps). */
const IDEMPOTENCY_WINDOW_MS = 24 * 60 * 60 * 1000;
/** Longest `?wait=` of GET /tasks/:id/result, in seconds. */
export const MAX_RESULT_WAIT_SECONDS = 60;

type OwnerScope = string | undefined;

/** A task that has not completed: GET .../result answers 409 with its status (and a failed task's error). */
export class NotCompletedError extends AppError {
  constructor(taskId: string, status: string, error: { code: string; message: string } | null) {
    super('NOT_COMPLETED', `Task ${taskId} is ${status}${error ? `: ${error.code}: ${error.message}` : ''}; its result exists once it has completed`, {
      status: 409,
      details: [{ field: 'status', message: status }, ...(error ? [{ field: 'error', message: `${error.code}: ${error.message}` }] : [])],
    });
  }
}

/**
 * The unified task API (seed 004): any registered task type created, signalled and read the same way.
 * `roadmap.generate` takes the same path as POST /roadmaps (its typed shortcut).
 */
@Injectable()
export class TaskApiService {
  constructor(
    @Inject(TaskTypes) private readonly types: TaskTypes,
    @Inject(TasksService) private readonly tasks: TasksService,
    @Inject(TasksRepository) private readonly repository: TasksRepository,
    @Inject(TASKS_OPTIONS) private readonly options: TasksOptions,
    @Inject(UsageRepository) private readonly usage: UsageRepository,
    @Inject(TaskCallbacks) private readonly callbacks: TaskCallbacks,
    @Inject(TaskActions) private readonly taskActions: TaskActions,
  ) {}

  async create(owner: string, request: CreateTaskRequest, idempotencyKey?: string) {
    const contract = this.types.get(request.type);
    const input = this.types.parseInput(contract, request.input);
    if (contract.type === RoadmapGenerateType.type) {
      const { goal, preferences } = input as RoadmapInput;
      const roadmap = { goal, preferences, priority: request.priority, review: request.review, ...(request.callbackUrl && { callbackUrl: request.callbackUrl }) };
      const { replayed, body } = await this.tasks.createRoadmap(owner, roadmap, idempotencyKey);
      return { replayed, body: { ...body, type: contract.type } };
    }
    this.tasks.assertQueueReachable();
    const { callbackUrl } = request;
    if (callbackUrl) await this.callbacks.check(owner, callbackUrl);
    const taskId = timeOrderedId();
    const reviewMode = request.review ?? this.options.reviewDefault;
    const idempotency = idempotencyKey
      ? { key: idempotencyKey, requestHash: createHash('sha256').update(JSON.stringify(request)).digest('hex'), windowMs: IDEMPOTENCY_WINDOW_MS }
      : undefined;
    const { task, replayed } = await this.repository.createOne(
      { id: taskId, type: contract.type, owner, priority: request.priority, input, version: contract.version, reviewMode },
      {
        idempotency,
        rows: async (em) => {
          if (callbackUrl) await TaskCallbacks.insert(em, [{ taskId, owner, url: callbackUrl }]);
        },
      },
    );
    this.tasks.releaseStarts([request.priority]);
    if (!replayed) accepted.inc({ type: contract.type });
    return { replayed, body: { taskId: task.id, type: task.type, status: task.status, reviewMode: task.reviewMode, links: taskLinks(task.id, task.roadmapId) } };
  }

  /**
   * A completed task's typed result; 409 NOT_COMPLETED with its status otherwise. With `waitSeconds`,
   * waits (bounded) for it to end first, like Celery's AsyncResult.get(timeout).
   */
  async result(taskId: string, scope: OwnerScope, waitSeconds = 0) {
    const deadline = Date.now() + Math.min(waitSeconds, MAX_RESULT_WAIT_SECONDS) * 1000;
    let task = await this.repository.findTask(taskId, scope);
    if (!task) throw new NotFoundError('Task', taskId);
    // Polled, not pushed: one indexed read per half second for at most a minute per waiting caller.
    while (!['completed', 'failed', 'cancelled'].includes(task.status) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(500, Math.max(0, deadline - Date.now()))));
      task = (await this.repository.findTask(taskId, scope)) ?? task;
    }
    if (task.status !== 'completed' || task.result === null) throw new NotCompletedError(taskId, task.status, task.error);
    const result = { ...task.result };
    // Usage is final only once the last call records landed: read it live rather than as it was at completion.
    if (task.type === RoadmapGenerateType.type) {
      result.usage = sumUsage(await this.usage.usageBySubject(task.id));
    }
    return { taskId: task.id, type: task.type, status: task.status, finishedAt: task.finishedAt?.toISOString() ?? null, result };
  }

  /** Answers a waiting task's signal: its payload checked against the type's schema, the run woken. */
  async signal(taskId: string, name: string, payload: unknown, scope: OwnerScope) {
    const found = await this.repository.findTask(taskId, scope);
    if (!found) throw new NotFoundError('Task', taskId);
    const checked = this.types.parseSignal(this.types.get(found.type), name, payload);
    const task = await this.taskActions.transition(
      taskId,
      ['awaiting_review'],
      'running',
      `signalled (it is not waiting for ${name})`,
      async (t, em) => {
        if (t.currentStep !== name) throw new AppError('CONFLICT', `Task ${taskId} waits for ${t.currentStep}, not ${name}`, { status: 409 });
        await Outbox.add(em, [
          workflowMessage(t.priority, { taskId, type: t.type, command: 'signal', signal: { name, payload: checked } }, `workflow-signal:${taskId}:${name}:${t.attempts}`),
        ]);
      },
      scope,
    );
    return { taskId, type: task.type, status: 'running' as const, signal: name, links: taskLinks(taskId, task.roadmapId) };
  }

  taskTypes() {
    return this.types.list();
  }
}
