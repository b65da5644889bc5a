/*
 * `npm run provision`: creates or updates every JetStream stream and consumer the platform declares.
 * Reads NATS_URL, NATS_NAMESPACE, the NATS_* credentials, NATS_STREAM_REPLICAS and the
 * WORKFLOW_/CONTENT_MAX_ATTEMPTS; prints one line per object; exits 1 on error.
 */
import { CommonEnvSchema, env, loadConfig, natsAuth } from '@roadmap/contracts';
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
});

async function main(): Promise<void> {
  const config = loadConfig(ProvisionEnvSchema);
  const messaging = await Messaging.connect({ servers: config.NATS_URL, namespace: config.NATS_NAMESPACE, name: 'provision', auth: natsAuth(config) });
  try {
    const report = await provision(messaging, {
      replicas: config.NATS_STREAM_REPLICAS,
      maxAttempts: { workflow: config.WORKFLOW_MAX_ATTEMPTS, content: config.CONTENT_MAX_ATTEMPTS },
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
