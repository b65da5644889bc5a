import { PRIORITIES, PRIORITY_CONSUMERS, priorityConcurrency } from '@roadmap/contracts';
import { LlmModule } from '@roadmap/llm';
import { LOGGER, runService } from '@roadmap/runtime';
import { loadContentWorkerConfig } from './config.js';
import { ContentModule } from './content/content.module.js';

await runService({
  name: 'content-worker',
  loadConfig: loadContentWorkerConfig,
  port: (config) => config.PORT,
  concurrency: (config) => {
    const slots = priorityConcurrency(config.WORKER_CONCURRENCY);
    return Object.fromEntries(PRIORITIES.map((p) => [PRIORITY_CONSUMERS.content[p].durable, slots[p]]));
  },
  modules: (config) => [{ ...LlmModule.forRoot(config, LOGGER), global: true }, ContentModule],
});
