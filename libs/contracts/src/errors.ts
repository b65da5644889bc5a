/*
 * One error hierarchy for the platform. Services throw these; the gateway maps them to HTTP in one
 * filter and the consumer runner maps them to ack / nak / term. `code` is stable: clients switch on it.
 */

export type ErrorCode =
  | 'VALIDATION_FAILED'
  | 'INVALID_JSON'
  | 'INVALID_ID'
  | 'NOT_FOUND'
  | 'ROUTE_NOT_FOUND'
  | 'CONFLICT'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  /** `priority: "high"` from a caller the priority policy does not grant it (admins, granted owners and API keys). */
  | 'PRIORITY_NOT_ALLOWED'
  | 'RATE_LIMITED'
  | 'IDEMPOTENCY_KEY_REUSED'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'SERVICE_UNAVAILABLE'
  | 'INTERNAL'
  | 'INVALID_MESSAGE'
  | 'LLM_RATE_LIMITED'
  | 'LLM_UNAVAILABLE'
  | 'LLM_TIMEOUT'
  | 'LLM_REJECTED'
  | 'LLM_BAD_OUTPUT'
  | 'LLM_BUDGET_EXHAUSTED'
  | 'LLM_CIRCUIT_OPEN'
  | 'DEAD_LETTERED'
  | 'WORKFLOW_INVALID'
  | 'WORKFLOW_VERSION_MISMATCH'
  | 'ITEMS_FAILED'
  /** The reaper gave up on a task that made no progress after REAPER_MAX_REDRIVES re-drives. */
  | 'TASK_STALLED'
  | 'CANCELLED'
  | 'TIME_LIMIT'
  | 'SUPERSEDED'
  | 'CONFIG_INVALID'
  /** POST /api/v1/tasks named a type no definition is registered for. */
  | 'UNKNOWN_TASK_TYPE'
  /** GET /api/v1/tasks/:id/result of a task that has not completed. */
  | 'NOT_COMPLETED'
  /** The task ran past its type's hard deadline. */
  | 'TASK_DEADLINE'
  /** A task state change the lifecycle's state machine does not allow. */
  | 'INVALID_TRANSITION'
  /** A webhook URL that resolves to an address webhooks may not reach, or does not resolve. */
  | 'WEBHOOK_URL_FORBIDDEN'
  /** A `callbackUrl` from an owner with no registered webhook, whose secret would sign it. */
  | 'WEBHOOK_SECRET_MISSING'
  /** A webhook endpoint did not answer 2xx in time (retried with backoff for 24 h). */
  | 'WEBHOOK_DELIVERY_FAILED'
  /** Admin controls (issue 20): a purged message's task, and refusals with the field at fault. */
  | 'PURGED'
  | 'CONFIRMATION_REQUIRED'
  | 'UNKNOWN_QUEUE'
  | 'UNKNOWN_CONSUMER'
  | 'WORKER_NOT_FOUND'
  | 'FILTER_MATCHES_NOTHING'
  /** Schedules: a cron expression or an IANA time zone that does not parse; a built-in (maintenance) schedule edited. */
  | 'INVALID_CRON'
  | 'INVALID_TIMEZONE'
  | 'BUILTIN_SCHEDULE'
  | 'SCHEDULE_NAME_TAKEN';

/** A field at fault in a request or message. */
export interface FieldIssue {
  readonly field: string;
  readonly message: string;
}

export interface AppErrorOptions {
  readonly status?: number;
  readonly retryable?: boolean;
  readonly details?: readonly FieldIssue[];
  /** Server-advised wait before a retry (HTTP Retry-After, LLM rate limits). */
  readonly retryAfterMs?: number;
  readonly cause?: unknown;
}

export class AppError extends Error {
  readonly status: number;
  readonly retryable: boolean;
  readonly details: readonly FieldIssue[];
  readonly retryAfterMs?: number;

  constructor(
    readonly code: ErrorCode,
    message: string,
    options: AppErrorOptions = {},
  ) {
    super(message, { cause: options.cause });
    this.name = new.target.name;
    this.status = options.status ?? 500;
    this.retryable = options.retryable ?? false;
    this.details = options.details ?? [];
    this.retryAfterMs = options.retryAfterMs;
  }
}

export class ValidationError extends AppError {
  constructor(message: string, details: readonly FieldIssue[], code: ErrorCode = 'VALIDATION_FAILED') {
    super(code, message, { status: 400, details });
  }
}

export class NotFoundError extends AppError {
  constructor(what: string, id: string) {
    super('NOT_FOUND', `${what} ${id} does not exist`, { status: 404 });
  }
}

export class ConflictError extends AppError {
  constructor(message: string) {
    super('CONFLICT', message, { status: 409 });
  }
}

export class UnavailableError extends AppError {
  constructor(message: string, retryAfterMs = 5_000, cause?: unknown) {
    super('SERVICE_UNAVAILABLE', message, { status: 503, retryable: true, retryAfterMs, cause });
  }
}

/** No credential, or one that is missing, expired, revoked or forged (HTTP 401). */
export class UnauthenticatedError extends AppError {
  constructor(message = 'Send a valid credential: Authorization: Bearer <API key or JWT>, or X-Api-Key') {
    super('UNAUTHENTICATED', message, { status: 401 });
  }
}

/** A known caller asking for what its role does not allow (HTTP 403). */
export class ForbiddenError extends AppError {
  constructor(message: string) {
    super('FORBIDDEN', message, { status: 403 });
  }
}

/**
 * `priority: "high"` asked by a caller not granted it (HTTP 403, the field at fault named): refused,
 * never downgraded, so a client learns it rather than getting normal service it did not ask for.
 */
export class PriorityNotAllowedError extends AppError {
  constructor() {
    super('PRIORITY_NOT_ALLOWED', 'High priority is granted to admins and to owners or API keys an admin has granted it; ask for normal or low', {
      status: 403,
      details: [{ field: 'priority', message: 'high is not granted to this caller' }],
    });
  }
}

/** Too many requests from one caller; retry after `retryAfterMs` (HTTP 429 with Retry-After). */
export class RateLimitedError extends AppError {
  constructor(message: string, retryAfterMs: number) {
    super('RATE_LIMITED', message, { status: 429, retryable: true, retryAfterMs });
  }
}

/** A message that can never be processed: dead-lettered at once, never retried. */
export class InvalidMessageError extends AppError {
  constructor(message: string, details: readonly FieldIssue[] = []) {
    super('INVALID_MESSAGE', message, { status: 400, details });
  }
}

/** A transient failure: the work is retried with backoff. */
export class RetryableError extends AppError {
  constructor(code: ErrorCode, message: string, options: Omit<AppErrorOptions, 'retryable'> = {}) {
    super(code, message, { ...options, retryable: true });
  }
}

/** A failure that retrying cannot fix. */
export class PermanentError extends AppError {
  constructor(code: ErrorCode, message: string, options: Omit<AppErrorOptions, 'retryable'> = {}) {
    super(code, message, { ...options, retryable: false });
  }
}

/**
 * Fencing: the work's message was redelivered to another worker, which now owns it (a newer lease).
 * This run's writes were refused; it stops without acking or naking, leaving the message to the newer
 * delivery.
 */
export class SupersededError extends AppError {
  constructor(message: string) {
    super('SUPERSEDED', message, { retryable: false });
  }
}

/** Whether an unknown error should be retried: anything not known to be permanent is (a DB blip must not drop work). */
export function isRetryable(error: unknown): boolean {
  return error instanceof AppError ? error.retryable : true;
}

/** Field issues from a zod error, with dotted paths (`preferences.level`); an unknown key is named itself. */
export function fieldIssues(
  issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string; code?: string; keys?: readonly string[] }>,
): FieldIssue[] {
  const dotted = (path: ReadonlyArray<PropertyKey>) => path.map((p) => (typeof p === 'symbol' ? p.toString() : String(p))).join('.');
  return issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys' && issue.keys?.length
      ? issue.keys.map((key) => ({ field: dotted([...issue.path, key]), message: 'unknown field' }))
      : [{ field: dotted(issue.path) || '(root)', message: issue.message }],
  );
}

/** Whether a handler's failure ends the work: a permanent error, or any error on the last delivery. */
export function failsForGood(error: unknown, isLastDelivery: boolean): boolean {
  return !isRetryable(error) || isLastDelivery;
}

/** The `{ code, message }` stored on a failed task or item: the stable code and a readable message. */
export function storedError(error: unknown): { code: string; message: string } {
  return error instanceof AppError
    ? { code: error.code, message: error.message }
    : { code: 'INTERNAL', message: error instanceof Error ? error.message : String(error) };
}

/** Socket and PostgreSQL connection-class codes: the database (or the network to it) is briefly away. */
const TRANSIENT_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '08000',
  '08001',
  '08003',
  '08004',
  '08006', // connection exceptions
  '53300', // too_many_connections
]);
const TRANSIENT_MESSAGE = /connection terminated|timeout exceeded when trying to connect|connection error|connection is closed|Connection lost/i;

/**
 * Whether an error means infrastructure is briefly unreachable (a database restarting, a dropped
 * connection) rather than anything about the work: such work is retried in place, without spending
 * the message's deliveries. The platform's own AppErrors carry their own classification.
 */
export function isTransientInfrastructureError(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; current && depth < 5; depth++) {
    if (current instanceof AppError) return false;
    const { code, message, driverError, cause } = current as { code?: unknown; message?: unknown; driverError?: unknown; cause?: unknown };
    if (typeof code === 'string' && TRANSIENT_CODES.has(code)) return true;
    if (typeof message === 'string' && TRANSIENT_MESSAGE.test(message)) return true;
    current = driverError ?? cause;
  }
  return false;
}
