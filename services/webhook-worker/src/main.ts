import { CONSUMERS } from '@roadmap/contracts';
import { runService } from '@roadmap/runtime';
import { loadWebhookWorkerConfig } from './config.js';
import { WebhooksModule } from './webhooks/webhooks.module.js';

await runService({
  name: 'webhook-worker',
  loadConfig: loadWebhookWorkerConfig,
  port: (config) => config.PORT,
  concurrency: (config) => ({ [CONSUMERS.webhookFanout.durable]: 16, [CONSUMERS.webhookDelivery.durable]: config.WORKER_CONCURRENCY }),
  modules: (config) => [WebhooksModule.forRoot({ allowPrivate: config.WEBHOOKS_ALLOW_PRIVATE, retryBaseMs: config.WEBHOOK_RETRY_BASE_MS, directConcurrency: config.WORKER_CONCURRENCY })],
});
