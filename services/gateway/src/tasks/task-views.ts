import type { ConceptEntity, ContentItemEntity, ExecutionLogEntity, LlmCallEntity, RoadmapEntity, TaskEntity } from '@roadmap/persistence';
import { CONTENT_KINDS } from '@roadmap/contracts';

/** What GET /api/v1/tasks/:id returns: the polling view of a task. */
export function taskView(task: TaskEntity) {
  const total = task.progressTotal;
  return {
    id: task.id,
    type: task.type,
    status: task.status,
    priority: task.priority,
    reviewMode: task.reviewMode,
    currentStep: task.currentStep,
    progress: {
      done: task.progressDone,
      failed: task.progressFailed,
      total,
      percent: total === 0 ? (task.status === 'completed' ? 100 : 0) : Math.floor((100 * task.progressDone) / total),
    },
    roadmapId: task.roadmapId,
    /** The task that fanned this one out (a batch), or null. */
    parentId: task.parentId,
    error: task.error,
    attempts: task.attempts,
    workflowVersion: task.workflowVersion,
    promptSet: task.promptSet,
    createdAt: task.createdAt.toISOString(),
    updatedAt: task.updatedAt.toISOString(),
    startedAt: task.startedAt?.toISOString() ?? null,
    finishedAt: task.finishedAt?.toISOString() ?? null,
    cancelledAt: task.cancelledAt?.toISOString() ?? null,
    links: taskLinks(task.id, task.roadmapId),
  };
}
export type TaskView = ReturnType<typeof taskView>;

export function taskLinks(taskId: string, roadmapId: string | null) {
  return {
    status: `/api/v1/tasks/${taskId}`,
    events: `/api/v1/tasks/${taskId}/events`,
    logs: `/api/v1/tasks/${taskId}/logs`,
    llmCalls: `/api/v1/tasks/${taskId}/llm-calls`,
    ...(roadmapId ? { roadmap: `/api/v1/roadmaps/${roadmapId}`, revisions: `/api/v1/roadmaps/${roadmapId}/revisions` } : {}),
  };
}

/** What GET /api/v1/roadmaps/:id returns: the framework with every concept's content. */
export function roadmapView(roadmap: RoadmapEntity, concepts: ConceptEntity[], items: ContentItemEntity[]) {
  const itemsByConcept = new Map<string, Map<string, ContentItemEntity>>();
  for (const item of items) {
    const byKind = itemsByConcept.get(item.conceptId) ?? new Map<string, ContentItemEntity>();
    byKind.set(item.kind, item);
    itemsByConcept.set(item.conceptId, byKind);
  }
  const stageInfo = new Map((roadmap.framework?.stages ?? []).map((s) => [s.id, s]));
  const stages: Array<{ id: string; title: string; goal: string | null; weeks: number | null; concepts: unknown[] }> = [];
  for (const concept of concepts) {
    let stage = stages.find((s) => s.id === concept.stageSlug);
    if (!stage) {
      const info = stageInfo.get(concept.stageSlug);
      stage = { id: concept.stageSlug, title: concept.stageTitle, goal: info?.goal ?? null, weeks: info?.weeks ?? null, concepts: [] };
      stages.push(stage);
    }
    const byKind = itemsByConcept.get(concept.id);
    stage.concepts.push({
      id: concept.id,
      slug: concept.slug,
      title: concept.title,
      summary: concept.summary,
      estimatedHours: concept.estimatedHours,
      prerequisites: concept.prerequisites,
      content: Object.fromEntries(
        CONTENT_KINDS.map((kind) => {
          const item = byKind?.get(kind);
          return [
            kind,
            item
              ? { status: item.status, content: item.content, error: item.error, attempts: item.attempts, promptVersion: item.promptVersion }
              : { status: 'pending', content: null, error: null, attempts: 0, promptVersion: null },
          ];
        }),
      ),
    });
  }
  return {
    id: roadmap.id,
    taskId: roadmap.taskId,
    status: roadmap.status,
    goal: roadmap.goal,
    preferences: roadmap.preferences,
    title: roadmap.framework?.title ?? null,
    summary: roadmap.framework?.summary ?? null,
    intent: roadmap.intent,
    validationIssues: roadmap.validationIssues ?? [],
    revision: roadmap.currentRevision,
    progress: { done: roadmap.itemsDone, failed: roadmap.itemsFailed, total: roadmap.itemsTotal },
    stages,
    createdAt: roadmap.createdAt.toISOString(),
    updatedAt: roadmap.updatedAt.toISOString(),
    completedAt: roadmap.completedAt?.toISOString() ?? null,
    links: taskLinks(roadmap.taskId, roadmap.id),
  };
}

export function logView(entry: ExecutionLogEntity) {
  return {
    id: entry.id,
    at: entry.createdAt.toISOString(),
    service: entry.service,
    instance: entry.instance,
    level: entry.level,
    step: entry.step,
    message: entry.message,
    data: entry.data,
  };
}

/** Costs are estimates to 8 decimal places (numeric(18, 8)); sums of them are shown the same way. */
export function usd(value: number): number {
  return Math.round(value * 1e8) / 1e8;
}

/** The sum of usage rows: a task's total from its per-subject rows. */
export function sumUsage(rows: ReadonlyArray<{ inputTokens: number; outputTokens: number; costUsd: number; calls: number }>) {
  const total = { inputTokens: 0, outputTokens: 0, costUsd: 0, calls: 0 };
  for (const row of rows) {
    total.inputTokens += row.inputTokens;
    total.outputTokens += row.outputTokens;
    total.costUsd += row.costUsd;
    total.calls += row.calls;
  }
  return { ...total, costUsd: usd(total.costUsd) };
}

/** One recorded LLM call; its rendered prompt and response only when asked for. */
export function llmCallView(call: LlmCallEntity, includeContent: boolean) {
  return {
    id: call.id,
    subject: call.subject,
    provider: call.provider,
    model: call.model,
    promptVersion: call.promptVersion,
    attempt: call.attempt,
    outcome: call.outcome,
    error: call.errorCode ? { code: call.errorCode, message: call.errorMessage ?? '' } : null,
    inputTokens: call.inputTokens,
    outputTokens: call.outputTokens,
    costUsd: call.costUsd === null ? null : usd(Number(call.costUsd)),
    latencyMs: call.latencyMs,
    startedAt: call.startedAt.toISOString(),
    createdAt: call.createdAt.toISOString(),
    links: { self: `/api/v1/tasks/${call.taskId}/llm-calls/${call.id}` },
    ...(includeContent ? { prompt: { system: call.promptSystem, user: call.promptUser }, response: call.response } : {}),
  };
}
