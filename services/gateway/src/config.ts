import { CommonEnvSchema, env, loadConfig, REVIEW_MODES } from '@roadmap/contracts';

export const GatewayEnvSchema = CommonEnvSchema.extend({
  PORT: env.int(3000, 0, 65535),
  HOST: env.string('0.0.0.0'),
  /** Largest request body accepted; larger is a 413. */
  BODY_LIMIT_BYTES: env.int(1024 * 1024, 1024, 64 * 1024 * 1024),
  /** Whether a person reviews the framework when a request does not say (`review`). */
  REVIEW_DEFAULT: env.oneOf(REVIEW_MODES, 'skip'),
  /** Milliseconds between keep-alive comments on an idle live-progress (SSE) stream. */
  SSE_KEEPALIVE_MS: env.int(15_000, 1_000, 600_000),
  /** Trust X-Forwarded-* from the ingress. */
  TRUST_PROXY: env.bool(false),
});
export type GatewayConfig = Readonly<ReturnType<typeof GatewayEnvSchema.parse>>;

export const loadGatewayConfig = (): GatewayConfig => loadConfig(GatewayEnvSchema);
