import { DeliverPolicy } from '@nats-io/jetstream';
import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { UnavailableError } from '@roadmap/contracts';
import { Messaging } from '@roadmap/messaging';
import { gauge, type Logger } from '@roadmap/observability';
import { sql } from '@roadmap/persistence';
import { LOGGER } from '@roadmap/runtime';
import type { FastifyReply } from 'fastify';
import { DataSource } from 'typeorm';
import { SSE_HEADERS, sseComment, sseEvent, sseRetry } from '../events/sse.js';

export const FEED_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type FeedLevel = (typeof FEED_LEVELS)[number];

export interface FeedFilter {
  /** Event types (`task.failed`) or type prefixes (`item.*`); any when empty. */
  readonly types: readonly string[];
  readonly owner?: string;
  /** The lowest level shown (default info: item.partial, the streaming excerpts, are debug). */
  readonly level: FeedLevel;
}

const feedClients = gauge('roadmap_gateway_admin_feed_clients', 'Open admin live-feed streams (GET /api/v1/admin/events)', []);

const KEEP_ALIVE_MS = 15_000;
const RETRY_MS = 2_000;
/** Task owners remembered for the owner filter and the `owner` field (one lookup per new task). */
const OWNER_CACHE = 10_000;
const CONSUMER_INACTIVE_MS = 60_000;

/** How much an event matters: failures are errors, retries warnings, streaming excerpts debug. */
export function levelOf(type: string): FeedLevel {
  if (type.endsWith('.failed')) return 'error';
  if (type.endsWith('.retrying') || type === 'task.cancelled') return 'warn';
  if (type === 'item.partial') return 'debug';
  return 'info';
}

export function matchesType(types: readonly string[], type: string): boolean {
  return types.length === 0 || types.some((t) => (t.endsWith('.*') ? type.startsWith(t.slice(0, -1)) : t === type));
}

/**
 * The admin live feed: every task's progress events as Server-Sent Events, like Flower's task feed.
 * One ordered consumer on the whole EVENTS stream per client, from now (or just after Last-Event-ID),
 * filtered here by type, owner and level; each event carries its task's `owner` and `level`.
 */
@Injectable()
export class LiveFeedService implements OnModuleDestroy {
  private readonly owners = new Map<string, string | null>();
  private readonly open = new Set<() => void>();

  constructor(
    @Inject(Messaging) private readonly messaging: Messaging,
    @Inject(DataSource) private readonly dataSource: DataSource,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  onModuleDestroy(): void {
    for (const end of [...this.open]) end();
  }

  async stream(filter: FeedFilter, afterSeq: number | undefined, reply: FastifyReply): Promise<void> {
    let consumer;
    try {
      consumer = await this.messaging.js.consumers.get(this.messaging.streamName('EVENTS'), {
        filter_subjects: this.messaging.subject('events.task.>'),
        ...(afterSeq === undefined ? { deliver_policy: DeliverPolicy.New } : { opt_start_seq: afterSeq + 1 }),
        inactive_threshold: CONSUMER_INACTIVE_MS,
      });
    } catch (error) {
      throw new UnavailableError('The live feed is unavailable right now; retry shortly', RETRY_MS, error);
    }
    const messages = await consumer.consume({ max_messages: 256 });
    reply.hijack();
    const out = reply.raw;
    out.writeHead(200, SSE_HEADERS);
    out.write(sseRetry(RETRY_MS));
    feedClients.inc();
    const keepAlive = setInterval(() => out.write(sseComment('keep-alive')), KEEP_ALIVE_MS);
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      clearInterval(keepAlive);
      this.open.delete(end);
      feedClients.dec();
      messages.stop();
      void consumer.delete().catch(() => false);
      if (!out.writableEnded) out.end();
    };
    this.open.add(end);
    out.on('close', end);
    try {
      for await (const m of messages) {
        if (ended) break;
        let event: { type?: unknown; taskId?: unknown };
        try {
          event = m.json();
        } catch {
          continue;
        }
        const type = typeof event.type === 'string' ? event.type : 'unknown';
        const level = levelOf(type);
        if (FEED_LEVELS.indexOf(level) < FEED_LEVELS.indexOf(filter.level) || !matchesType(filter.types, type)) continue;
        const owner = typeof event.taskId === 'string' ? await this.ownerOf(event.taskId) : null;
        if (filter.owner !== undefined && owner !== filter.owner) continue;
        // Back-pressure: a slow client holds its consumer, not the gateway's memory.
        if (!out.write(sseEvent(m.seq, type, JSON.stringify({ ...event, owner, level })))) await new Promise((resolve) => out.once('drain', resolve));
      }
    } catch (error) {
      this.logger.warn({ err: error }, 'admin live feed ended');
    } finally {
      end();
    }
  }

  private async ownerOf(taskId: string): Promise<string | null> {
    if (this.owners.has(taskId)) return this.owners.get(taskId)!;
    const { rows } = await sql<{ owner: string }>(this.dataSource, `SELECT owner FROM tasks WHERE id = $1`, [taskId]).catch(() => ({ rows: [] }));
    const owner = rows[0]?.owner ?? null;
    if (this.owners.size >= OWNER_CACHE) this.owners.delete(this.owners.keys().next().value!);
    // An unknown task may be committed a moment later: only known owners are remembered.
    if (owner !== null) this.owners.set(taskId, owner);
    return owner;
  }
}
