import { z } from 'zod';
import { AppError } from './errors.js';

/*
 * Configuration comes from environment variables, validated once at start-up into a frozen, typed
 * object. Nothing else reads process.env. A bad or missing value stops the process with its name.
 */

/** Environment variables are strings: these read them into typed values. */
export const env = {
  string: (fallback: string) => z.string().trim().default(fallback),
  optionalString: () =>
    z
      .string()
      .trim()
      .optional()
      .transform((v) => (v === '' ? undefined : v)),
  int: (fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER) =>
    z.coerce.number().int().min(min).max(max).default(fallback),
  number: (fallback: number, min = 0, max = Number.MAX_VALUE) => z.coerce.number().min(min).max(max).default(fallback),
  bool: (fallback: boolean) =>
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no'])
      .default(fallback ? 'true' : 'false')
      .transform((v) => v === 'true' || v === '1' || v === 'yes'),
  url: (fallback: string, protocols: readonly string[]) =>
    z
      .string()
      .trim()
      .default(fallback)
      .refine((v) => {
        try {
          return protocols.includes(new URL(v).protocol.replace(/:$/, ''));
        } catch {
          return false;
        }
      }, `must be a URL with scheme ${protocols.join(' or ')}`),
  oneOf: <T extends readonly [string, ...string[]]>(values: T, fallback: T[number]) => z.enum(values).default(fallback),
};

/** Variables every service reads: where NATS and PostgreSQL are, and how to log. */
export const CommonEnvSchema = z.object({
  NATS_URL: z
    .string()
    .trim()
    .default('nats://127.0.0.1:4222')
    .refine((v) => v.split(',').every((u) => /^(nats|tls|ws|wss):\/\/[^\s]+$/.test(u.trim())), 'comma-separated nats:// or tls:// URLs'),
  /** Prefix for stream names and subjects: isolates test runs or several platforms on one NATS account. */
  NATS_NAMESPACE: z
    .string()
    .trim()
    .default('')
    .refine((v) => v === '' || /^[a-z][a-z0-9_]{0,31}$/.test(v), 'lower-case letters, digits and _, at most 32'),
  /** NATS credentials: user and password, a token, a `.creds` file, or an NKey seed file (first set wins: creds, nkey, token, user). */
  NATS_USER: env.optionalString(),
  NATS_PASSWORD: env.optionalString(),
  NATS_TOKEN: env.optionalString(),
  NATS_CREDS_FILE: env.optionalString(),
  NATS_NKEY_SEED_FILE: env.optionalString(),
  /** TLS to NATS: CA to verify the server, and a client certificate and key for mutual TLS. */
  NATS_TLS_CA_FILE: env.optionalString(),
  NATS_TLS_CERT_FILE: env.optionalString(),
  NATS_TLS_KEY_FILE: env.optionalString(),
  DATABASE_URL: env.url('postgres://postgres@127.0.0.1:5432/roadmap', ['postgres', 'postgresql']),
  DATABASE_SCHEMA: z
    .string()
    .trim()
    .default('public')
    .refine((v) => /^[a-z_][a-z0-9_]{0,62}$/.test(v), 'a lower-case PostgreSQL identifier'),
  DATABASE_POOL_SIZE: env.int(10, 1, 200),
  /** TLS to PostgreSQL: disable, require (encrypted), or verify-full (encrypted, certificate verified). */
  DATABASE_SSL: env.oneOf(['disable', 'require', 'verify-full'] as const, 'disable'),
  LOG_LEVEL: env.oneOf(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const, 'info'),
  /** Seconds a stopping process gives in-flight work before it gives up on it (SIGTERM). */
  SHUTDOWN_GRACE_MS: env.int(20_000, 0, 600_000),
  /**
   * Execution-log entries a process holds while the broker does not take them (JSON bytes): they are
   * retried until stored; past this an entry is dropped to the process log and counted.
   */
  EXECUTION_LOG_BUFFER_BYTES: env.int(64 * 1024 * 1024, 1024 * 1024, 1024 * 1024 * 1024),
  /** How often each process reports itself to the worker registry; past three periods of silence it counts as gone. */
  WORKER_HEARTBEAT_MS: env.int(5_000, 500, 60_000),
});
export type CommonConfig = z.infer<typeof CommonEnvSchema>;

/**
 * `<KIND>_SOFT_TIME_LIMIT_MS` / `<KIND>_HARD_TIME_LIMIT_MS` for one kind of work, with defaults; merge
 * into a service schema with `.extend(timeLimitEnv('CONTENT', ...))` and check with {@link refineTimeLimits}.
 */
export function timeLimitEnv<K extends string>(kind: K, softMs: number, hardMs: number) {
  return {
    [`${kind}_SOFT_TIME_LIMIT_MS`]: env.int(softMs, 1_000, 24 * 3_600_000),
    [`${kind}_HARD_TIME_LIMIT_MS`]: env.int(hardMs, 1_000, 24 * 3_600_000),
  } as Record<`${K}_SOFT_TIME_LIMIT_MS` | `${K}_HARD_TIME_LIMIT_MS`, ReturnType<typeof env.int>>;
}

/** The hard limit must leave the handler time to stop after the soft one. */
export function refineTimeLimits(kind: string) {
  return (config: Record<string, unknown>, ctx: z.RefinementCtx): void => {
    const soft = config[`${kind}_SOFT_TIME_LIMIT_MS`] as number;
    const hard = config[`${kind}_HARD_TIME_LIMIT_MS`] as number;
    if (!(hard > soft)) ctx.addIssue({ code: 'custom', path: [`${kind}_HARD_TIME_LIMIT_MS`], message: `must be greater than ${kind}_SOFT_TIME_LIMIT_MS (${soft})` });
  };
}

export class ConfigError extends AppError {
  constructor(readonly problems: readonly string[]) {
    super('CONFIG_INVALID', `Invalid configuration:\n  ${problems.join('\n  ')}`);
  }
}

/**
 * Parses the environment with a schema whose keys are variable names. Empty strings count as unset,
 * so `FOO=` falls back to the default instead of failing a number parse.
 */
export function loadConfig<S extends z.ZodObject>(schema: S, source: NodeJS.ProcessEnv = process.env): Readonly<z.infer<S>> {
  const input: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    const value = source[key];
    if (value !== undefined && value !== '') input[key] = value;
  }
  const result = schema.safeParse(input);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((issue) => {
        const name = String(issue.path[0] ?? '(config)');
        const shown = source[name] === undefined ? 'unset' : `"${redactValue(name, source[name] ?? '')}"`;
        return `${name} (${shown}): ${issue.message}`;
      }),
    );
  }
  return Object.freeze(result.data) as Readonly<z.infer<S>>;
}

const SECRET_NAME = /(KEY|SECRET|PASSWORD|TOKEN|CREDENTIALS)/;
function redactValue(name: string, value: string): string {
  return SECRET_NAME.test(name) ? '<redacted>' : value;
}

/** The NATS credential and TLS settings of a loaded configuration, as the messaging layer takes them. */
export function natsAuth(
  config: Pick<
    CommonConfig,
    'NATS_USER' | 'NATS_PASSWORD' | 'NATS_TOKEN' | 'NATS_CREDS_FILE' | 'NATS_NKEY_SEED_FILE' | 'NATS_TLS_CA_FILE' | 'NATS_TLS_CERT_FILE' | 'NATS_TLS_KEY_FILE'
  >,
) {
  return {
    user: config.NATS_USER,
    password: config.NATS_PASSWORD,
    token: config.NATS_TOKEN,
    credsFile: config.NATS_CREDS_FILE,
    nkeySeedFile: config.NATS_NKEY_SEED_FILE,
    tls: { caFile: config.NATS_TLS_CA_FILE, certFile: config.NATS_TLS_CERT_FILE, keyFile: config.NATS_TLS_KEY_FILE },
  };
}
