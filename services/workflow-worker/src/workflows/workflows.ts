import type { LlmProvider } from '@roadmap/llm';
import type { DeadLetterActions, TaskActions, WorkflowDefinition } from '@roadmap/workflow';
import type { AdminBulkRepository } from './admin-bulk/admin-bulk.repository.js';
import { adminBulkWorkflow } from './admin-bulk/admin-bulk.workflow.js';
import { batchWorkflow } from './batch/batch.workflow.js';
import type { RoadmapRepository } from './roadmap/roadmap.repository.js';
import { roadmapWorkflow } from './roadmap/roadmap.workflow.js';

/** What the built-in definitions are made from. */
export interface WorkflowDeps {
  llm: LlmProvider;
  roadmaps: RoadmapRepository;
  maxEditRounds: number;
  /** An operator's bulk actions (admin.bulk): the single-item actions and the outcomes' table. */
  bulk: { tasks: TaskActions; deadLetters: DeadLetterActions; repository: AdminBulkRepository };
}

/**
 * Every workflow this worker runs: the one place a built-in job type is registered (its contract
 * goes in libs/contracts' BUILT_IN_TASK_TYPES). Types from WORKFLOW_MODULES are added at start-up.
 */
export function builtInWorkflows(deps: WorkflowDeps): WorkflowDefinition<any, any, any>[] {
  return [
    roadmapWorkflow({ llm: deps.llm, repository: deps.roadmaps, maxEditRounds: deps.maxEditRounds }),
    batchWorkflow,
    adminBulkWorkflow(deps.bulk),
  ];
}
