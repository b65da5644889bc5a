import { Inject, Injectable } from '@nestjs/common';
import { WORKFLOW_VERSION, type CreateRoadmapRequest } from '@roadmap/contracts';
import {
  ConceptEntity,
  ContentItemEntity,
  ExecutionLogEntity,
  RoadmapEntity,
  TaskEntity,
} from '@roadmap/persistence';
import { DataSource, type EntityManager } from 'typeorm';

/** The gateway's access to PostgreSQL: it creates tasks and roadmaps and reads everything else. */
@Injectable()
export class TasksRepository {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  /**
   * Inserts a roadmap task and its roadmap, then runs `enqueue` inside the same transaction:
   * if enqueueing fails, nothing is committed (no task without its message).
   */
  async createRoadmapTask(
    ids: { taskId: string; roadmapId: string },
    owner: string,
    request: CreateRoadmapRequest,
    enqueue: () => Promise<unknown>,
  ): Promise<TaskEntity> {
    const now = new Date();
    return this.dataSource.transaction(async (em: EntityManager) => {
      const task = em.create(TaskEntity, {
        id: ids.taskId,
        type: 'roadmap.generate',
        status: 'queued',
        owner,
        priority: request.priority,
        input: request as unknown as Record<string, unknown>,
        result: null,
        error: null,
        currentStep: null,
        progressDone: 0,
        progressFailed: 0,
        progressTotal: 0,
        attempts: 0,
        roadmapId: ids.roadmapId,
        workflowVersion: WORKFLOW_VERSION,
        createdAt: now,
        updatedAt: now,
        startedAt: null,
        finishedAt: null,
      });
      // jsonb columns are typed loosely by TypeORM's insert signature; the entity is complete.
      await em.insert(TaskEntity, task as never);
      await em.insert(RoadmapEntity, {
        id: ids.roadmapId,
        taskId: ids.taskId,
        owner,
        goal: request.goal,
        preferences: request.preferences,
        status: 'designing',
        intent: null,
        framework: null,
        validationIssues: null,
        itemsTotal: 0,
        itemsDone: 0,
        itemsFailed: 0,
        createdAt: now,
        updatedAt: now,
        completedAt: null,
      });
      await enqueue();
      return task;
    });
  }

  findTask(id: string): Promise<TaskEntity | null> {
    return this.dataSource.getRepository(TaskEntity).findOneBy({ id });
  }

  async findRoadmap(id: string): Promise<{ roadmap: RoadmapEntity; concepts: ConceptEntity[]; items: ContentItemEntity[] } | null> {
    const roadmap = await this.dataSource.getRepository(RoadmapEntity).findOneBy({ id });
    if (!roadmap) return null;
    const [concepts, items] = await Promise.all([
      this.dataSource.getRepository(ConceptEntity).find({ where: { roadmapId: id }, order: { stageIndex: 'ASC', position: 'ASC' } }),
      this.dataSource.getRepository(ContentItemEntity).find({ where: { roadmapId: id } }),
    ]);
    return { roadmap, concepts, items };
  }

  /** A page of a task's execution logs in time order, after a (created_at, id) cursor. */
  async findLogs(taskId: string, after: { at: Date; id: string } | null, limit: number): Promise<ExecutionLogEntity[]> {
    const query = this.dataSource
      .getRepository(ExecutionLogEntity)
      .createQueryBuilder('log')
      .where('log.task_id = :taskId', { taskId })
      .orderBy('log.created_at', 'ASC')
      .addOrderBy('log.id', 'ASC')
      .limit(limit);
    if (after) query.andWhere('(log.created_at, log.id) > (:at, :id)', { at: after.at, id: after.id });
    return query.getMany();
  }
}
