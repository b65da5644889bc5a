import { perPriority, priorityConcurrency, prioritySlots } from '@roadmap/contracts';
import { LLM_CALL_OBSERVER, LlmModule } from '@roadmap/llm';
import { llmUsageOptions, LlmUsageModule, LOGGER, runService } from '@roadmap/runtime';
import { dispatchOptions } from '@roadmap/workflow';
import { loadContentWorkerConfig } from './config.js';
import { ContentModule } from './content/content.module.js';

await runService({
  name: 'content-worker',
  loadConfig: loadContentWorkerConfig,
  port: (config) => config.PORT,
  // Handler slots: the LLM slots (WORKER_CONCURRENCY per priority) plus the standby that waits, delivered, for one of them.
  concurrency: (config) => {
    const llm = prioritySlots('content', config.WORKER_CONCURRENCY);
    const standby = prioritySlots('content', config.WORKER_STANDBY);
    return Object.fromEntries(Object.entries(llm).map(([durable, n]) => [durable, n + (config.WORKER_STANDBY > 0 ? standby[durable]! : 0)]));
  },
  timeLimits: (config) => perPriority('content', { softMs: config.CONTENT_SOFT_TIME_LIMIT_MS, hardMs: config.CONTENT_HARD_TIME_LIMIT_MS }),
  modules: (config) => [
    { ...LlmModule.forRoot(config, LOGGER), global: true },
    // Call records, usage and budgets in PostgreSQL: the LLM layer calls it around every attempt.
    LlmUsageModule.forRoot(llmUsageOptions(config), LLM_CALL_OBSERVER),
    ContentModule.forRoot({ llmSlots: priorityConcurrency(config.WORKER_CONCURRENCY), dispatch: dispatchOptions(config) }),
  ],
});
