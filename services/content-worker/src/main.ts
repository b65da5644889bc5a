import { perPriority, prioritySlots } from '@roadmap/contracts';
import { LLM_CALL_OBSERVER, LlmModule } from '@roadmap/llm';
import { llmUsageOptions, LlmUsageModule, LOGGER, runService } from '@roadmap/runtime';
import { loadContentWorkerConfig } from './config.js';
import { ContentModule } from './content/content.module.js';

await runService({
  name: 'content-worker',
  loadConfig: loadContentWorkerConfig,
  port: (config) => config.PORT,
  concurrency: (config) => prioritySlots('content', config.WORKER_CONCURRENCY),
  timeLimits: (config) => perPriority('content', { softMs: config.CONTENT_SOFT_TIME_LIMIT_MS, hardMs: config.CONTENT_HARD_TIME_LIMIT_MS }),
  modules: (config) => [
    { ...LlmModule.forRoot(config, LOGGER), global: true },
    // Call records, usage and budgets in PostgreSQL: the LLM layer calls it around every attempt.
    LlmUsageModule.forRoot(llmUsageOptions(config), LLM_CALL_OBSERVER),
    ContentModule,
  ],
});
