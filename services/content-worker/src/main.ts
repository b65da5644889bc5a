import { prioritySlots } from '@roadmap/contracts';
import { LlmModule } from '@roadmap/llm';
import { LOGGER, runService } from '@roadmap/runtime';
import { loadContentWorkerConfig } from './config.js';
import { ContentModule } from './content/content.module.js';

await runService({
  name: 'content-worker',
  loadConfig: loadContentWorkerConfig,
  port: (config) => config.PORT,
  concurrency: (config) => prioritySlots('content', config.WORKER_CONCURRENCY),
  modules: (config) => [{ ...LlmModule.forRoot(config, LOGGER), global: true }, ContentModule],
});
