import { PRIORITIES, PRIORITY_CONSUMERS, priorityConcurrency } from '@roadmap/contracts';
import { LlmModule } from '@roadmap/llm';
import { LOGGER, runService } from '@roadmap/runtime';
import { loadWorkflowWorkerConfig } from './config.js';
import { WorkflowModule } from './workflow/workflow.module.js';

await runService({
  name: 'workflow-worker',
  loadConfig: loadWorkflowWorkerConfig,
  port: (config) => config.PORT,
  concurrency: (config) => {
    const slots = priorityConcurrency(config.WORKER_CONCURRENCY);
    return Object.fromEntries(PRIORITIES.map((p) => [PRIORITY_CONSUMERS.workflow[p].durable, slots[p]]));
  },
  modules: (config) => [
    { ...LlmModule.forRoot(config, LOGGER), global: true },
    WorkflowModule.forRoot({ maxEditRounds: config.WORKFLOW_MAX_EDIT_ROUNDS }),
  ],
});
