import { CommonEnvSchema, env, loadConfig } from '@roadmap/contracts';

export const GatewayEnvSchema = CommonEnvSchema.extend({
  PORT: env.int(3000, 0, 65535),
  HOST: env.string('0.0.0.0'),
  /** Largest request body accepted; larger is a 413. */
  BODY_LIMIT_BYTES: env.int(1024 * 1024, 1024, 64 * 1024 * 1024),
  /** Trust X-Forwarded-* from the ingress. */
  TRUST_PROXY: env.bool(false),
});
export type GatewayConfig = Readonly<ReturnType<typeof GatewayEnvSchema.parse>>;

export const loadGatewayConfig = (): GatewayConfig => loadConfig(GatewayEnvSchema);
