import { CommonEnvSchema, env, loadConfig, REVIEW_MODES } from '@roadmap/contracts';
import { DispatchEnvSchema, WorkflowTypesEnvSchema } from '@roadmap/workflow';

export const GatewayEnvSchema = CommonEnvSchema.extend(WorkflowTypesEnvSchema.shape).extend(DispatchEnvSchema.shape).extend({
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
  /** HS256 secret of bearer JWTs (at least 32 characters); unset: no HS256 tokens. */
  AUTH_JWT_SECRET: env
    .optionalString()
    .refine((v) => v === undefined || v.length >= 32, 'must be at least 32 characters'),
  /** JWKS URL of an identity provider whose RS256/ES256 JWTs are accepted; unset: none. */
  AUTH_JWKS_URL: env
    .optionalString()
    .refine((v) => v === undefined || /^https?:\/\/./.test(v), 'must be an http(s) URL'),
  /** Required `iss` of JWTs, when set. */
  AUTH_JWT_ISSUER: env.optionalString(),
  /** Required `aud` of JWTs, when set. */
  AUTH_JWT_AUDIENCE: env.optionalString(),
  /** Task creations (POST /api/v1/roadmaps) per caller and minute; 0 turns the limit off. */
  AUTH_RATE_LIMIT_PER_MINUTE: env.int(60, 0, 1_000_000),
  /** Origins allowed to call the API from a browser (comma-separated, `*` for any); empty: no CORS. */
  CORS_ORIGINS: env
    .string('')
    .transform((v) => v.split(',').map((o) => o.trim()).filter(Boolean))
    .refine((list) => list.every((o) => o === '*' || /^https?:\/\/[^/]+$/.test(o)), 'must be comma-separated origins like https://app.example.com'),
  /** Accept webhook URLs on loopback, private and link-local addresses (tests, npm start); cloud metadata addresses never. */
  WEBHOOKS_ALLOW_PRIVATE: env.bool(false),
});
export type GatewayConfig = Readonly<ReturnType<typeof GatewayEnvSchema.parse>>;

export const loadGatewayConfig = (): GatewayConfig => loadConfig(GatewayEnvSchema);
