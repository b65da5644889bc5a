import { prioritySlots } from '@roadmap/contracts';
import { LlmModule } from '@roadmap/llm';
import { LOGGER, runService } from '@roadmap/runtime';
import { loadWorkflowWorkerConfig } from './config.js';
import { WorkflowModule } from './workflow/workflow.module.js';

await runService({
  name: 'workflow-worker',
  loadConfig: loadWorkflowWorkerConfig,
  port: (config) => config.PORT,
  concurrency: (config) => prioritySlots('workflow', config.WORKER_CONCURRENCY),
  modules: (config) => [
    { ...LlmModule.forRoot(config, LOGGER), global: true },
    WorkflowModule.forRoot({ maxEditRounds: config.WORKFLOW_MAX_EDIT_ROUNDS }),
  ],
});
