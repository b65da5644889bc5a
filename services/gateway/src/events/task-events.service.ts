import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { NotFoundError, Subjects, UnavailableError } from '@roadmap/contracts';
import { Messaging } from '@roadmap/messaging';
import { counter, gauge, type Logger } from '@roadmap/observability';
import { LOGGER } from '@roadmap/runtime';
import type { TaskEntity } from '@roadmap/persistence';
import type { FastifyReply } from 'fastify';
import { TasksRepository } from '../tasks/tasks.repository.js';
import { SSE_HEADERS, sseRetry } from './sse.js';
import { isSettled, TaskEventStream, type StoredEvent, type StreamEndReason, type TaskState } from './task-event-stream.js';

/** Settings of the event streams (see {@link EventsModule.forRoot}). */
export interface EventsOptions {
  /** Milliseconds between `: keep-alive` comments on an idle stream (SSE_KEEPALIVE_MS). */
  readonly keepAliveMs: number;
  /** The `retry:` hint: how long a client waits before reconnecting. */
  readonly retryMs: number;
  /** How long a final task without its final event in the stream is still given for the event to land. */
  readonly finalGraceMs: number;
}
export const EVENTS_OPTIONS = Symbol('EVENTS_OPTIONS');

type Consumer = Awaited<ReturnType<Messaging['js']['consumers']['get']>>;
type ConsumerMessages = Awaited<ReturnType<Consumer['consume']>>;

const sseClients = gauge('roadmap_gateway_sse_clients', 'Open Server-Sent Events streams of task progress', []);
const sseStreams = counter('roadmap_gateway_sse_streams_total', 'Server-Sent Events streams ended, by reason', ['reason']);

/** Events buffered per client ahead of what it has read. */
const MAX_BUFFERED = 64;
/** A consumer left behind (gateway killed) is removed by the server after this idle time. */
const CONSUMER_INACTIVE_MS = 60_000;
/** Longest a shutdown waits for the streams' consumers to be released. */
const SHUTDOWN_WAIT_MS = 3_000;

/**
 * Live progress of tasks over Server-Sent Events: one ordered (ephemeral, unacknowledged) JetStream
 * consumer per client, filtered on the task's subject of the EVENTS stream and starting at the task's
 * first event or just after the client's Last-Event-ID, so a reconnecting client gets exactly what it
 * missed. Every open stream is ended on shutdown, before the NATS connection drains.
 */
@Injectable()
export class TaskEventsService implements OnModuleDestroy {
  private readonly streams = new Set<TaskEventStream>();
  private stopping = false;

  constructor(
    @Inject(Messaging) private readonly messaging: Messaging,
    @Inject(TasksRepository) private readonly tasks: TasksRepository,
    @Inject(EVENTS_OPTIONS) private readonly options: EventsOptions,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /**
   * Answers GET /api/v1/tasks/:id/events on `reply`. Throws (404, 503) before anything is sent; once
   * the stream has started, failures end it (the client reconnects and resumes) instead of throwing.
   * A task that is over, with nothing after `afterSeq`, is a 204: an EventSource stops reconnecting.
   */
  async stream(taskId: string, scope: string | undefined, afterSeq: number | undefined, reply: FastifyReply): Promise<void> {
    // `scope`: the caller's owner (undefined for an admin); another owner's task is a 404.
    const task = await this.tasks.findTask(taskId, scope);
    if (!task) throw new NotFoundError('Task', taskId);
    if (this.stopping || reply.request.method === 'HEAD') {
      // Shutting down: an empty stream whose end makes the client reconnect (to another replica) soon.
      // HEAD (Fastify answers it with this GET route): the headers only, no consumer.
      reply.hijack();
      reply.raw.writeHead(200, SSE_HEADERS);
      reply.raw.end(sseRetry(this.options.retryMs));
      return;
    }

    const consumer = await this.openConsumer(taskId, afterSeq);
    let messages: ConsumerMessages | undefined;
    const release = async () => {
      messages?.stop();
      await consumer.delete().catch(() => false);
    };
    let pending: number;
    try {
      pending = (await consumer.info(true)).num_pending;
      if (pending === 0 && isSettled(taskState(task), this.options.finalGraceMs)) {
        await release();
        sseStreams.inc({ reason: 'over' });
        void reply.code(204).header('cache-control', 'no-cache').send();
        return;
      }
      messages = await consumer.consume({ max_messages: MAX_BUFFERED });
    } catch (error) {
      await release();
      throw error instanceof UnavailableError ? error : new UnavailableError('The event stream is unavailable right now; retry shortly', 2_000, error);
    }

    // From here on the response is ours: nothing may throw to Nest's error filter.
    reply.hijack();
    const socket = reply.raw.socket;
    if (reply.raw.destroyed || !socket || socket.destroyed) {
      // The client left while the consumer was being set up.
      await release();
      return;
    }
    reply.raw.writeHead(200, SSE_HEADERS);
    this.follow(
      new TaskEventStream({
        taskId,
        out: reply.raw,
        events: storedEvents(messages),
        initiallyPending: pending,
        stop: release,
        loadTask: async () => {
          const current = await this.tasks.findTask(taskId);
          return current ? taskState(current) : null;
        },
        keepAliveMs: this.options.keepAliveMs,
        retryMs: this.options.retryMs,
        finalGraceMs: this.options.finalGraceMs,
        logger: this.logger,
      }),
    );
  }

  /** Shutdown's first step (with readiness turning false): end every stream so the server can close. */
  async onModuleDestroy(): Promise<void> {
    this.stopping = true;
    if (this.streams.size === 0) return;
    this.logger.info({ streams: this.streams.size }, 'ending open event streams');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.streams].map((s) => s.end('shutdown'))),
      new Promise((resolve) => (timer = setTimeout(resolve, SHUTDOWN_WAIT_MS))),
    ]);
    clearTimeout(timer);
  }

  private follow(stream: TaskEventStream): void {
    this.streams.add(stream);
    sseClients.inc();
    void stream.done.then((reason: StreamEndReason) => {
      this.streams.delete(stream);
      sseClients.dec();
      sseStreams.inc({ reason });
    });
    stream.start();
  }

  /** An ordered consumer of the task's events, from its first one or from just after `afterSeq`. */
  private async openConsumer(taskId: string, afterSeq: number | undefined): Promise<Consumer> {
    try {
      return await this.messaging.js.consumers.get(this.messaging.streamName('EVENTS'), {
        filter_subjects: this.messaging.subject(Subjects.taskEvents(taskId)),
        opt_start_seq: (afterSeq ?? 0) + 1,
        inactive_threshold: CONSUMER_INACTIVE_MS,
      });
    } catch (error) {
      throw new UnavailableError('The event stream is unavailable right now; retry shortly', 2_000, error);
    }
  }
}

function taskState(task: TaskEntity): TaskState {
  return { status: task.status, finishedAt: task.finishedAt ?? task.updatedAt };
}

async function* storedEvents(messages: ConsumerMessages): AsyncGenerator<StoredEvent> {
  for await (const m of messages) {
    yield { seq: m.seq, data: m.string(), pending: m.info.pending };
  }
}
