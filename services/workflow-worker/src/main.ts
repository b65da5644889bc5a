import { CONSUMERS, perPriority, prioritySlots } from '@roadmap/contracts';
import { LLM_CALL_OBSERVER, LlmModule } from '@roadmap/llm';
import { llmUsageOptions, LlmUsageModule, LOGGER, runService } from '@roadmap/runtime';
import { dispatchOptions } from '@roadmap/workflow';
import { loadWorkflowWorkerConfig } from './config.js';
import { DeadLettersModule } from './dead-letters/dead-letters.module.js';
import { MaintenanceModule } from './maintenance/maintenance.module.js';
import { WorkflowModule } from './workflow/workflow.module.js';

/** Dead letters are rare and each is one short transaction: a few at once keep up with a burst. */
const DEAD_LETTER_CONCURRENCY = 4;

await runService({
  name: 'workflow-worker',
  loadConfig: loadWorkflowWorkerConfig,
  port: (config) => config.PORT,
  concurrency: (config) => ({ ...prioritySlots('workflow', config.WORKER_CONCURRENCY), [CONSUMERS.deadLetterSink.durable]: DEAD_LETTER_CONCURRENCY }),
  timeLimits: (config) => perPriority('workflow', { softMs: config.WORKFLOW_SOFT_TIME_LIMIT_MS, hardMs: config.WORKFLOW_HARD_TIME_LIMIT_MS }),
  modules: (config) => [
    { ...LlmModule.forRoot(config, LOGGER), global: true },
    // Call records, usage and budgets in PostgreSQL: the LLM layer calls it around every attempt.
    LlmUsageModule.forRoot(llmUsageOptions(config), LLM_CALL_OBSERVER),
    WorkflowModule.forRoot({
      maxEditRounds: config.WORKFLOW_MAX_EDIT_ROUNDS,
      modules: config.WORKFLOW_MODULES,
      deadlines: config.TASK_DEADLINES,
      deadlineSweepMs: config.DEADLINE_SWEEP_MS,
      // The workflow workers sweep: held work no event released, the held gauges.
      dispatch: dispatchOptions(config, true),
    }),
    // The lifecycle owner maintains the lifecycle: retention, log partitions, the reaper.
    MaintenanceModule.forRoot(config),
    DeadLettersModule,
  ],
});
