import { Inject, Injectable } from '@nestjs/common';
import { NotFoundError, Subjects, ValidationError, type CreateRoadmapRequest } from '@roadmap/contracts';
import { JetStreamPublisher } from '@roadmap/messaging';
import { counter } from '@roadmap/observability';
import { v7 as uuidv7 } from 'uuid';
import { logView, roadmapView, taskLinks, taskView } from './task-views.js';
import { TasksRepository } from './tasks.repository.js';

const tasksAccepted = counter('roadmap_tasks_accepted_total', 'Tasks accepted by the API', ['type', 'priority']);

/** Until authentication lands every caller is this owner. */
export const ANONYMOUS_OWNER = 'anonymous';

@Injectable()
export class TasksService {
  constructor(
    @Inject(TasksRepository) private readonly repository: TasksRepository,
    @Inject(JetStreamPublisher) private readonly publisher: JetStreamPublisher,
  ) {}

  /**
   * Accepts a roadmap request: the task row, the roadmap row and the workflow message are created
   * together (the message is published inside the transaction; a failed publish rolls back).
   */
  async createRoadmap(owner: string, request: CreateRoadmapRequest) {
    // Time-ordered ids keep the tasks index append-mostly and make cursors sort by creation.
    const ids = { taskId: uuidv7(), roadmapId: uuidv7() };
    const task = await this.repository.createRoadmapTask(ids, owner, request, () =>
      this.publisher.publish(Subjects.workflowGenerate, ids, { msgId: `workflow-generate:${ids.taskId}` }),
    );
    tasksAccepted.inc({ type: task.type, priority: task.priority });
    return { taskId: ids.taskId, roadmapId: ids.roadmapId, status: task.status, links: taskLinks(ids.taskId, ids.roadmapId) };
  }

  async getTask(id: string) {
    const task = await this.repository.findTask(id);
    if (!task) throw new NotFoundError('Task', id);
    return taskView(task);
  }

  async getRoadmap(id: string) {
    const found = await this.repository.findRoadmap(id);
    if (!found) throw new NotFoundError('Roadmap', id);
    return roadmapView(found.roadmap, found.concepts, found.items);
  }

  async getLogs(taskId: string, cursor: string | undefined, limit: number) {
    const task = await this.repository.findTask(taskId);
    if (!task) throw new NotFoundError('Task', taskId);
    const entries = await this.repository.findLogs(taskId, cursor ? decodeCursor(cursor) : null, limit);
    const last = entries.at(-1);
    return {
      items: entries.map(logView),
      nextCursor: entries.length === limit && last ? encodeCursor(last.createdAt, last.id) : null,
    };
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

