import { PreferencesSchema, RoadmapBatchType, RoadmapGenerateType, type RoadmapBatchInput, type RoadmapBatchResult } from '@roadmap/contracts';
import { sql } from '@roadmap/persistence';
import { defineWorkflow } from '@roadmap/workflow';

interface BatchState {
  created: boolean;
}

/**
 * roadmap.batch (seed 003's import with group/chord): one roadmap.generate child per goal, all owned
 * by the batch's owner at its priority, each readable, followable and cancellable on its own. Once
 * every child has ended the batch completes with the aggregate; a failed child does not fail it.
 * Cancelling the batch cancels its unfinished children, resuming it resumes the ones that did not
 * complete (both by the engine and the lifecycle, for any definition that fans out to children).
 */
export const batchWorkflow = defineWorkflow<RoadmapBatchInput, RoadmapBatchResult, BatchState>({
  contract: RoadmapBatchType,
  initialState: () => ({ created: false }),
  apply(state, step) {
    if (step === 'create_children') state.created = true;
  },
  next: (state) => (state.created ? { children: true } : { step: 'create_children' }),
  steps: {
    async create_children({ task }) {
      const preferences = PreferencesSchema.parse(task.input.preferences ?? {});
      return {
        data: { children: task.input.goals.length },
        children: task.input.goals.map((goal) => ({
          type: RoadmapGenerateType.type,
          input: { goal, preferences },
          reviewMode: task.input.review ?? 'skip',
        })),
      };
    },
  },
  async join(task, children, em) {
    const count = (status: string) => children.filter((c) => c.status === status).length;
    const { rows } = await sql<{ input_tokens: string; output_tokens: string; cost_usd: string; calls: string }>(
      em,
      `SELECT coalesce(sum(input_tokens), 0) AS input_tokens, coalesce(sum(output_tokens), 0) AS output_tokens,
              coalesce(sum(cost_usd), 0) AS cost_usd, coalesce(sum(calls), 0) AS calls
         FROM llm_usage_items WHERE task_id = ANY($1::uuid[])`,
      [children.map((c) => c.id)],
    );
    const usage = rows[0]!;
    return {
      total: children.length,
      completed: count('completed'),
      failed: count('failed'),
      cancelled: count('cancelled'),
      children: children.map((c) => ({
        taskId: c.id,
        roadmapId: c.roadmapId,
        goal: (c.input as { goal: string }).goal,
        status: c.status as 'completed' | 'failed' | 'cancelled',
      })),
      usage: { inputTokens: Number(usage.input_tokens), outputTokens: Number(usage.output_tokens), costUsd: Number(usage.cost_usd), calls: Number(usage.calls) },
    };
  },
});
