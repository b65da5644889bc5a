import { CommonEnvSchema, env, loadConfig } from '@roadmap/contracts';

export const WebhookWorkerEnvSchema = CommonEnvSchema.extend({
  /** Health and metrics port. */
  PORT: env.int(3004, 0, 65535),
  /** Deliveries sent at once: each mostly waits for its endpoint (at most 10 s), so many are cheap. */
  WORKER_CONCURRENCY: env.int(256, 1, 1024),
  /** Send to loopback, private and link-local addresses (tests, npm start); cloud metadata addresses never. */
  WEBHOOKS_ALLOW_PRIVATE: env.bool(false),
  /** First retry delay of a failed delivery; it doubles per attempt (with jitter) up to 15 min, for 24 h. */
  WEBHOOK_RETRY_BASE_MS: env.int(5_000, 10, 15 * 60_000),
});
export type WebhookWorkerConfig = Readonly<ReturnType<typeof WebhookWorkerEnvSchema.parse>>;

export const loadWebhookWorkerConfig = (): WebhookWorkerConfig => loadConfig(WebhookWorkerEnvSchema);
