import { Inject, Injectable } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { AppError, CONSUMERS, STREAMS, ValidationError, type ConsumerDeclaration, type Priority } from '@roadmap/contracts';
import { ConsumerControl, Messaging, type ControlState } from '@roadmap/messaging';
import { gauge } from '@roadmap/observability';
import { TasksService } from '../tasks/tasks.service.js';

/** Consumers an operator can pause: every durable, each served by a JetStreamServer that watches the controls. */
const CONTROLLABLE = Object.values(CONSUMERS) as ConsumerDeclaration[];

const pausedSince = gauge(
  'roadmap_admin_consumer_paused_since_seconds',
  'When an operator paused the consumer (unix seconds), labelled with who; absent when it is not paused',
  ['consumer', 'by'],
);

/** Parallel reads when a purge collects the task ids of the messages it drops. */
const PURGE_READS_IN_FLIGHT = 64;
/** Message ids in a dry run's sample. */
const SAMPLE_SIZE = 10;

export interface PauseView {
  readonly consumer: string;
  readonly stream: string;
  readonly paused: boolean;
  readonly pausedBy: string | null;
  readonly pausedAt: string | null;
}

/**
 * Queue control for operators: pause and resume a consumer (one stream × priority, or every
 * consumer of a stream) through the ADMIN_CONTROL KV bucket that every worker watches, and purge a
 * queue's messages (after a dry run, with an explicit confirmation), cancelling their tasks.
 */
@Injectable()
export class QueueControlService {
  readonly control: ConsumerControl;

  constructor(
    @Inject(Messaging) private readonly messaging: Messaging,
    @Inject(ModuleRef) private readonly moduleRef: ModuleRef,
  ) {
    this.control = new ConsumerControl(messaging);
  }

  /** The consumers a stream (and optionally a priority) names; 404 UNKNOWN_QUEUE / 400 for a priority it has not. */
  consumersOf(stream: string, priority?: Priority): ConsumerDeclaration[] {
    const all = CONTROLLABLE.filter((c) => c.stream === stream);
    if (all.length === 0) {
      throw new AppError('UNKNOWN_QUEUE', `No controllable queue is called ${stream}: use a stream name from GET /api/v1/admin/queues (${[...new Set(CONTROLLABLE.map((c) => c.stream))].join(', ')})`, {
        status: 404,
        details: [{ field: 'stream', message: 'unknown queue' }],
      });
    }
    if (priority === undefined) return all;
    const one = all.filter((c) => c.durable.endsWith(`-${priority}`));
    if (one.length === 0) throw new ValidationError(`${stream} has no priorities: leave priority out`, [{ field: 'priority', message: `${stream} has no priority consumers` }]);
    return one;
  }

  /** A consumer by durable name; 404 UNKNOWN_CONSUMER otherwise. */
  consumer(durable: string): ConsumerDeclaration {
    const found = CONTROLLABLE.find((c) => c.durable === durable);
    if (!found) {
      throw new AppError('UNKNOWN_CONSUMER', `No consumer is called ${durable}: use a consumer name from GET /api/v1/admin/queues`, {
        status: 404,
        details: [{ field: 'consumer', message: 'unknown consumer' }],
      });
    }
    return found;
  }

  async pause(stream: string, priority: Priority | undefined, by: string) {
    const consumers = this.consumersOf(stream, priority);
    for (const c of consumers) await this.control.pause(c.durable, by);
    await this.exportPauses();
    return this.view(stream, priority, consumers);
  }

  async resume(stream: string, priority: Priority | undefined) {
    const consumers = this.consumersOf(stream, priority);
    for (const c of consumers) await this.control.resume(c.durable);
    await this.exportPauses();
    return this.view(stream, priority, consumers);
  }

  /** Paused state per consumer (for GET queues as well). */
  async pauseViews(consumers: readonly ConsumerDeclaration[] = CONTROLLABLE, state?: ControlState): Promise<PauseView[]> {
    const current = state ?? (await this.control.read());
    return consumers.map((c) => {
      const paused = current.paused.get(c.durable);
      return { consumer: c.durable, stream: c.stream, paused: paused !== undefined, pausedBy: paused?.by ?? null, pausedAt: paused?.at ?? null };
    });
  }

  /** Refreshes the paused-since gauge from the controls (the gateway's queue sampling calls it every 10 s). */
  async exportPauses(): Promise<void> {
    const views = await this.pauseViews();
    pausedSince.reset();
    for (const v of views) if (v.paused && v.pausedAt) pausedSince.set({ consumer: v.consumer, by: v.pausedBy ?? 'unknown' }, Date.parse(v.pausedAt) / 1000);
  }

  private async view(stream: string, priority: Priority | undefined, consumers: readonly ConsumerDeclaration[]) {
    return { stream, priority: priority ?? null, consumers: await this.pauseViews(consumers) };
  }

  /**
   * Drops the queue's messages (of one priority, or all) present now: a dry run counts them and the
   * tasks they belong to; the real run needs `confirm: true`, purges up to the last message counted
   * (a message published meanwhile stays), and cancels those tasks with code PURGED, so none is left
   * running forever waiting for work that is gone.
   */
  async purge(stream: string, priority: Priority | undefined, dryRun: boolean, confirm: boolean) {
    const consumers = this.consumersOf(stream, priority);
    if (!dryRun && !confirm) {
      throw new ValidationError('A purge drops messages for good: count them with dryRun: true, then send confirm: true', [{ field: 'confirm', message: 'must be true' }], 'CONFIRMATION_REQUIRED');
    }
    const decl = STREAMS[stream as keyof typeof STREAMS];
    if (decl.retention !== 'workqueue') {
      // A limits stream (DEAD_LETTERS) keeps what was handled: its messages are records, not work.
      throw new ValidationError(`${stream} keeps its messages as records: only a work queue can be purged`, [{ field: 'stream', message: 'not a work queue' }]);
    }
    const filter = this.messaging.subject(priority === undefined ? decl.subjects[0]! : consumers[0]!.filterSubject);
    const name = this.messaging.streamName(stream);
    const { state } = await this.messaging.jsm.streams.info(name);
    const upTo = state.last_seq;
    const found = await this.readTaskIds(name, filter, state.first_seq, upTo);
    const taskIds = [...found.taskIds];
    const base = { stream, priority: priority ?? null, messages: found.messages, tasks: taskIds.length };
    if (dryRun) return { ...base, dryRun: true, sample: taskIds.slice(0, SAMPLE_SIZE) };
    const purged = found.messages === 0 ? 0 : (await this.messaging.jsm.streams.purge(name, { filter, seq: upTo + 1 })).purged;
    const cancelled = await this.cancelPurged(taskIds, stream);
    return { ...base, dryRun: false, purged, cancelled };
  }

  /** Task ids of the messages matching `filter` between two sequences (a work queue has gaps: acked messages are gone). */
  private async readTaskIds(stream: string, filter: string, from: number, to: number): Promise<{ messages: number; taskIds: Set<string> }> {
    const taskIds = new Set<string>();
    let messages = 0;
    let next = from;
    const worker = async () => {
      while (next <= to) {
        const seq = next++;
        const m = await this.messaging.jsm.streams.getMessage(stream, { seq }).catch(() => null);
        if (!m || !subjectMatches(filter, m.subject)) continue;
        messages++;
        try {
          const taskId = (JSON.parse(new TextDecoder().decode(m.data)) as { taskId?: unknown }).taskId;
          if (typeof taskId === 'string') taskIds.add(taskId);
        } catch {
          // Not JSON (a poison message): it is purged, and names no task.
        }
      }
    };
    if (to >= from) await Promise.all(Array.from({ length: PURGE_READS_IN_FLIGHT }, worker));
    return { messages, taskIds };
  }

  /**
   * Cancels through the tasks API's own cancel (the same transition, notice and event as a person's
   * cancel), then records why: code PURGED on the tasks this purge ended.
   */
  private async cancelPurged(taskIds: readonly string[], stream: string): Promise<number> {
    const tasks = this.moduleRef.get(TasksService, { strict: false });
    const ended: string[] = [];
    for (const id of taskIds) {
      try {
        const before = await tasks.getTask(id, undefined);
        if (['completed', 'failed', 'cancelled'].includes(before.status)) continue;
        await tasks.cancel(id, undefined, { code: 'PURGED', message: `An operator purged its queued work from ${stream}` });
        ended.push(id);
      } catch (error) {
        // Gone, or ended meanwhile (409): nothing to cancel.
        if (!(error instanceof AppError) || error.status >= 500) throw error;
      }
    }
    return ended.length;
  }
}

/** NATS subject matching: `*` one token, `>` the rest. */
export function subjectMatches(filter: string, subject: string): boolean {
  const f = filter.split('.');
  const s = subject.split('.');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '>') return s.length > i;
    if (i >= s.length || (f[i] !== '*' && f[i] !== s[i])) return false;
  }
  return f.length === s.length;
}
