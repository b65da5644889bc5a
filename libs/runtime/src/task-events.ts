import { Inject, Injectable } from '@nestjs/common';
import { Subjects, type TaskEvent } from '@roadmap/contracts';
import { JetStreamPublisher } from '@roadmap/messaging';
import type { Logger } from '@roadmap/observability';

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
export type TaskEventInput = DistributiveOmit<TaskEvent, 'at'>;

/** Injection token of the process's pino logger. */
export const LOGGER = Symbol('LOGGER');

/**
 * Publishes a task's progress events to the EVENTS stream. An event id is derived from what it says
 * (task, type, step or item), so a redelivered handler that repeats itself publishes no duplicate.
 * Progress is best effort: a lost event never fails the work (the polling view stays right).
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

