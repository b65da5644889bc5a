import { CONSUMERS } from '@roadmap/contracts';
import { runService } from '@roadmap/runtime';
import { loadLogSinkConfig } from './config.js';
import { LogSinkModule } from './sink/log-sink.module.js';

await runService({
  name: 'log-sink',
  loadConfig: loadLogSinkConfig,
  port: (config) => config.PORT,
  concurrency: (config) => ({ [CONSUMERS.logSink.durable]: config.WORKER_CONCURRENCY }),
  batches: (config) => ({ [CONSUMERS.logSink.durable]: { maxBatch: config.LOG_SINK_BATCH_SIZE, maxWaitMs: config.LOG_SINK_FLUSH_MS } }),
  modules: () => [LogSinkModule],
});
