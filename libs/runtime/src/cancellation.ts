import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Subscription } from '@nats-io/nats-core';
import { Subjects, TaskCancelledNoticeSchema } from '@roadmap/contracts';
import { Messaging } from '@roadmap/messaging';
import type { Logger } from '@roadmap/observability';
import { LOGGER } from './task-events.js';

/** The reason an aborted signal carries when its task was cancelled by a person. */
export class TaskCancelled extends Error {
  constructor(readonly taskId: string) {
    super(`task ${taskId} was cancelled`);
    this.name = 'TaskCancelled';
  }
}

/**
 * Aborts the work in flight for a cancelled task. The gateway announces a cancellation on a core NATS
 * subject every worker listens to; each handler runs its task's work under `signalFor(taskId)`, an
 * AbortSignal that fires on that announcement (or when the message's own signal fires at shutdown).
 * A worker that misses the announcement still writes nothing: every write checks the task's status.
 */
@Injectable()
export class Cancellation implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly controllers = new Map<string, Set<AbortController>>();
  private subscription?: Subscription;

  constructor(
    @Inject(Messaging) private readonly messaging: Messaging,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  onApplicationBootstrap(): void {
    this.subscription = this.messaging.nc.subscribe(this.messaging.subject(Subjects.taskCancelled), {
      callback: (error, msg) => {
        if (error) return this.logger.warn({ err: error }, 'cancellation subscription error');
        const notice = TaskCancelledNoticeSchema.safeParse(safeJson(msg.string()));
        if (notice.success) this.abort(notice.data.taskId);
      },
    });
  }

  onApplicationShutdown(): void {
    this.subscription?.unsubscribe();
  }

  /** Runs `work` with a signal that aborts when the task is cancelled or `parent` aborts. */
  async run<T>(taskId: string, parent: AbortSignal, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const controller = new AbortController();
    const set = this.controllers.get(taskId) ?? new Set<AbortController>();
    set.add(controller);
    this.controllers.set(taskId, set);
    try {
      return await work(AbortSignal.any([parent, controller.signal]));
    } finally {
      set.delete(controller);
      if (set.size === 0) this.controllers.delete(taskId);
    }
  }

  /** Whether `signal` fired because its task was cancelled (not because the process stops). */
  static isCancellation(signal: AbortSignal): boolean {
    return signal.aborted && signal.reason instanceof TaskCancelled;
  }

  private abort(taskId: string): void {
    const set = this.controllers.get(taskId);
    if (!set) return;
    this.logger.info({ taskId, inFlight: set.size }, 'task cancelled: aborting its work in flight');
    for (const controller of set) controller.abort(new TaskCancelled(taskId));
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
