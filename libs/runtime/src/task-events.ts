import { Inject, Injectable } from '@nestjs/common';
import { Subjects, type TaskEvent } from '@roadmap/contracts';
import { JetStreamPublisher } from '@roadmap/messaging';
import type { Logger } from '@roadmap/observability';

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
export type TaskEventInput = DistributiveOmit<TaskEvent, 'at'>;

/** Injection token of the process's pino logger. */
export const LOGGER = Symbol('LOGGER');

/**
 * Publishes a task's progress events that no transaction decides (`item.partial` snapshots while a
 * tutorial streams) straight to the EVENTS stream, best effort: a lost one never fails the work, and
 * the next snapshot replaces it. Events a transaction decides go to the outbox in that transaction
 * (libs/workflow `taskEvent`). An event id is derived from what it says (task, type, what), so a
 * redelivered handler that repeats itself publishes no duplicate.
 */
@Injectable()
export class TaskEvents {
  constructor(
    @Inject(JetStreamPublisher) private readonly publisher: JetStreamPublisher,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async publish(event: TaskEventInput, dedupeKey: string): Promise<void> {
    const full = { ...event, at: new Date().toISOString() } as TaskEvent;
    try {
      await this.publisher.publish(Subjects.taskEvents(event.taskId), full, { msgId: `${event.taskId}:${event.type}:${dedupeKey}` });
    } catch (error) {
      this.logger.warn({ err: error, taskId: event.taskId, type: event.type }, 'progress event not published');
    }
  }
}

