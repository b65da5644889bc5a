/*
 * `npm run provision`: creates or updates every JetStream stream, consumer and KV bucket the platform
 * declares. Reads NATS_URL, NATS_NAMESPACE, the NATS_* credentials, NATS_STREAM_REPLICAS,
 * NATS_STREAM_LIMITS, the WORKFLOW_/CONTENT_MAX_ATTEMPTS and the LLM settings that size the buckets
 * (LLM_RATE_WINDOW_MS, LLM_CACHE_TTL_SECONDS); prints one line per object; exits 1 on error.
 */
import { z } from 'zod';
import { CommonEnvSchema, env, loadConfig, natsAuth, STREAMS } from '@roadmap/contracts';
import { Messaging } from '../messaging.js';
import { provision } from '../provision.js';

const ProvisionEnvSchema = CommonEnvSchema.pick({
  NATS_URL: true,
  NATS_NAMESPACE: true,
  NATS_USER: true,
  NATS_PASSWORD: true,
  NATS_TOKEN: true,
  NATS_CREDS_FILE: true,
  NATS_NKEY_SEED_FILE: true,
  NATS_TLS_CA_FILE: true,
  NATS_TLS_CERT_FILE: true,
  NATS_TLS_KEY_FILE: true,
}).extend({
  NATS_STREAM_REPLICAS: env.int(1, 1, 5),
  /** Deliveries of a workflow command before it is dead-lettered (each resumes from the checkpoints). */
  WORKFLOW_MAX_ATTEMPTS: env.int(3, 1, 100),
  /** Deliveries of a content item's message before the item fails for good. */
  CONTENT_MAX_ATTEMPTS: env.int(3, 1, 100),
  /**
   * Per-stream limits as JSON, by logical stream name: `{"LOGS":{"maxBytes":1073741824,"maxAgeSeconds":604800}}`.
   * A full work-queue stream refuses new messages rather than dropping queued ones.
   */
  NATS_STREAM_LIMITS: z
    .string()
    .trim()
    .default('{}')
    .transform((text, ctx) => {
      try {
        return JSON.parse(text === '' ? '{}' : text) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'must be JSON, e.g. {"LOGS":{"maxBytes":1073741824}}' });
        return z.NEVER;
      }
    })
    .pipe(
      z.partialRecord(
        z.enum(Object.values(STREAMS).map((d) => d.name) as [string, ...string[]]),
        z.strictObject({ maxBytes: z.number().int().min(1).optional(), maxAgeSeconds: z.number().int().min(0).optional() }),
      ),
    ),
  /** The LLM settings the buckets are sized by: the same variables (and bounds) the workers read (libs/llm config). */
  LLM_RATE_WINDOW_MS: env.int(60_000, 100, 3_600_000),
  LLM_CACHE_TTL_SECONDS: env.int(86_400, 0, 31_536_000),
});

async function main(): Promise<void> {
  const config = loadConfig(ProvisionEnvSchema);
  const messaging = await Messaging.connect({ servers: config.NATS_URL, namespace: config.NATS_NAMESPACE, name: 'provision', auth: natsAuth(config) });
  try {
    const report = await provision(messaging, {
      replicas: config.NATS_STREAM_REPLICAS,
      maxAttempts: { workflow: config.WORKFLOW_MAX_ATTEMPTS, content: config.CONTENT_MAX_ATTEMPTS },
      streamLimits: Object.fromEntries(
        Object.entries(config.NATS_STREAM_LIMITS).map(([stream, l]) => [
          stream,
          { ...(l?.maxBytes !== undefined && { maxBytes: l.maxBytes }), ...(l?.maxAgeSeconds !== undefined && { maxAgeMs: l.maxAgeSeconds * 1000 }) },
        ]),
      ),
      kv: { rateWindowMs: config.LLM_RATE_WINDOW_MS, cacheTtlSeconds: config.LLM_CACHE_TTL_SECONDS },
    });
    for (const entry of report.entries) {
      const changes = entry.changes.length > 0 ? ` (${entry.changes.join(', ')})` : '';
      console.log(`${entry.action.padEnd(9)} ${entry.kind.padEnd(8)} ${entry.name}${changes}`);
    }
  } finally {
    await messaging.close();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`provision failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
