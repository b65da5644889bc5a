import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Subjects, type LogEntry, type LogLevel } from '@roadmap/contracts';
import type { Logger } from 'pino';
import { counter } from './metrics.js';

/** What the ExecutionLogger needs of the messaging layer (kept as an interface: this lib sits below it). */
export interface LogEntryPublisher {
  publish(subject: string, payload: unknown, options?: { msgId?: string }): Promise<unknown>;
}

export interface ExecutionLogContext {
  readonly taskId?: string | null;
  readonly step?: string | null;
  readonly data?: Record<string, unknown> | null;
}

/** This process, as operators find it: the pod name in Kubernetes (HOSTNAME), plus the pid. */
export const INSTANCE = `${hostname()}:${process.pid}`;

const published = counter('roadmap_execution_logs_published_total', 'Execution-log entries published to the LOGS stream', [
  'level',
  'outcome',
]);

/**
 * Records what a task's work did, for the people who look at a task later. Entries go to the LOGS
 * stream and the log sink writes them to PostgreSQL in batches: no service writes the table itself,
 * so logging never competes with the work for database connections.
 *
 * `log()` resolves once the broker has stored the entry (it is then never lost); it never rejects:
 * an entry that cannot be published goes to the process log instead, so logging never fails the work.
 */
export class ExecutionLogger {
  constructor(
    private readonly service: string,
    private readonly publisher: LogEntryPublisher,
    private readonly fallback: Logger,
  ) {}

  debug(message: string, context?: ExecutionLogContext) {
    return this.log('debug', message, context);
  }
  info(message: string, context?: ExecutionLogContext) {
    return this.log('info', message, context);
  }
  warn(message: string, context?: ExecutionLogContext) {
    return this.log('warn', message, context);
  }
  error(message: string, context?: ExecutionLogContext) {
    return this.log('error', message, context);
  }

  async log(level: LogLevel, message: string, context: ExecutionLogContext = {}): Promise<boolean> {
    const entry: LogEntry = {
      id: randomUUID(),
      ts: new Date().toISOString(),
      service: this.service,
      instance: INSTANCE,
      level,
      taskId: context.taskId ?? null,
      step: context.step ?? null,
      message: message.slice(0, 4000),
      data: context.data ?? null,
    };
    try {
      await this.publisher.publish(Subjects.log(this.service), entry, { msgId: entry.id });
      published.inc({ level, outcome: 'published' });
      return true;
    } catch (error) {
      published.inc({ level, outcome: 'fallback' });
      this.fallback.warn({ entry, err: error }, 'execution log entry not published; kept in the process log');
      return false;
    }
  }
}
