import pino, { type DestinationStream, type Logger } from 'pino';
import type { LoggerService } from '@nestjs/common';
import { activeTraceIds } from './tracing.js';

export type { Logger } from 'pino';

/** Paths whose values never reach a log line. */
export const REDACT_PATHS = [
  '*.password',
  '*.apiKey',
  '*.api_key',
  '*.token',
  '*.secret',
  '*.authorization',
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'headers.authorization',
  '*.cookie',
  '*.LLM_API_KEY',
  '*.DATABASE_URL',
  'req.headers.cookie',
  'headers.cookie',
  'headers["x-api-key"]',
  'config.LLM_API_KEY',
  'config.DATABASE_URL',
];

/**
 * JSON logs on stdout, one line per event, with the service name on every line, and `trace_id` and
 * `span_id` on every line written inside an active span (so a log search and a trace viewer meet).
 */
export function createLogger(service: string, level = 'info', destination?: DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { service },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    // A new object per line: pino merges the line's fields into what the mixin returns.
    mixin: () => activeTraceIds() ?? {},
  };
  return destination ? pino(options, destination) : pino(options);
}

/** Correlation fields a log line can carry: the task it works for and the trace it belongs to. */
export interface LogContext {
  readonly taskId?: string | null;
  readonly traceId?: string | null;
  readonly step?: string | null;
  readonly [key: string]: unknown;
}

/**
 * A child logger whose every line carries the task (and trace) id: `forTask(logger, { taskId })`.
 * Cheap (pino serialises the bindings once); null or undefined fields are left out.
 */
export function forTask(logger: Logger, context: LogContext): Logger {
  const bindings: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(context)) if (value !== undefined && value !== null) bindings[key] = value;
  return logger.child(bindings);
}

/** Nest's start-up chatter (modules initialised, routes mapped): debug, so info shows what matters. */
const FRAMEWORK_CONTEXTS = new Set(['InstanceLoader', 'RoutesResolver', 'RouterExplorer', 'NestFactory', 'NestApplication', 'NestMicroservice']);

/** Routes NestJS's own logging into the pino logger. */
export class NestPinoLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}
  log(message: unknown, context?: string) {
    if (context && FRAMEWORK_CONTEXTS.has(context)) this.logger.debug({ context }, String(message));
    else this.logger.info({ context }, String(message));
  }
  error(message: unknown, trace?: string, context?: string) {
    this.logger.error({ context, trace }, String(message));
  }
  warn(message: unknown, context?: string) {
    this.logger.warn({ context }, String(message));
  }
  debug(message: unknown, context?: string) {
    this.logger.debug({ context }, String(message));
  }
  verbose(message: unknown, context?: string) {
    this.logger.trace({ context }, String(message));
  }
}
