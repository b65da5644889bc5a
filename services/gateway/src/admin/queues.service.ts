import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { UnavailableError } from '@roadmap/contracts';
import { Messaging } from '@roadmap/messaging';
import { readQueues, type ConsumerState } from '@roadmap/runtime';
import { AckRates, SAMPLE_EVERY_MS } from './ack-rate.js';
import { QueueControlService, type PauseView } from './queue-control.service.js';

/** A consumer as GET /api/v1/admin/queues shows it. */
export interface ConsumerView {
  readonly consumer: string;
  readonly stream: string;
  /** Messages not yet delivered to the consumer (num_pending). */
  readonly pending: number | null;
  /** Delivered, not yet acknowledged (num_ack_pending). */
  readonly ackPending: number | null;
  /** Delivered more than once and not yet acknowledged (num_redelivered). */
  readonly redelivered: number | null;
  /** Pull requests waiting for messages: idle worker slots asking for work (num_waiting). */
  readonly waiting: number | null;
  /** Last delivery or acknowledgement, whichever is later (ISO), when JetStream reports it. */
  readonly lastActive: string | null;
  /** Deliveries acknowledged per second over the last minute (see ack-rate.ts); null until sampled. */
  readonly ackRate: number | null;
  readonly rateWindowSeconds: number | null;
  /** Paused by an operator (POST queues/:stream/pause): who and when; null when the controls could not be read. */
  readonly paused: boolean | null;
  readonly pausedBy: string | null;
  readonly pausedAt: string | null;
  readonly error: string | null;
}

export interface StreamView {
  readonly stream: string;
  readonly messages: number | null;
  readonly bytes: number | null;
  readonly consumers: ConsumerView[];
  readonly error: string | null;
}

/**
 * Queue depth per stream and consumer, read live from JetStream (the same reads as the cluster
 * metrics), plus an acknowledgement rate from ack-floor samples this gateway keeps in memory.
 */
@Injectable()
export class QueuesService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly rates = new AckRates();
  private timer?: NodeJS.Timeout;

  constructor(
    @Inject(Messaging) private readonly messaging: Messaging,
    @Inject(QueueControlService) private readonly control: QueueControlService,
  ) {}

  onApplicationBootstrap(): void {
    // Background samples, so the first request after a quiet minute already has a rate.
    const sample = () => {
      void this.read().catch(() => undefined);
      void this.control.exportPauses().catch(() => undefined);
    };
    this.timer = setInterval(sample, SAMPLE_EVERY_MS);
    this.timer.unref();
    sample();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  async list(): Promise<{ at: string; streams: StreamView[] }> {
    const { consumers, streams, rates, at } = await this.read();
    if ([...consumers, ...streams].every((s) => 'error' in s)) throw new UnavailableError('JetStream did not answer: NATS is unreachable');
    const pauses = new Map((await this.control.pauseViews().catch(() => [] as PauseView[])).map((p) => [p.consumer, p]));
    return {
      at: new Date(at).toISOString(),
      streams: streams.map((s) => ({
        stream: s.decl.name,
        messages: 'info' in s ? s.info.state.messages : null,
        bytes: 'info' in s ? s.info.state.bytes : null,
        consumers: consumers
          .filter((c) => c.decl.stream === s.decl.name)
          .map((c) => {
            const pause = pauses.get(c.decl.durable);
            return { ...view(c, rates.get(key(c)) ?? null), paused: pause?.paused ?? null, pausedBy: pause?.pausedBy ?? null, pausedAt: pause?.pausedAt ?? null };
          }),
        error: 'error' in s ? message(s.error) : null,
      })),
    };
  }

  /** Reads every consumer and stream; each ack floor read is a sample, and is rated against the earlier ones. */
  private async read() {
    const { consumers, streams } = await readQueues(this.messaging);
    const at = Date.now();
    const rates = new Map<string, Rate | null>();
    for (const c of consumers) {
      if (!('info' in c)) continue;
      rates.set(key(c), this.rates.rate(key(c), floorOf(c), at));
      this.rates.record(key(c), floorOf(c), at);
    }
    return { consumers, streams, rates, at };
  }
}

type Rate = { perSecond: number; windowSeconds: number };

function view(c: ConsumerState, rate: Rate | null): Omit<ConsumerView, 'paused' | 'pausedBy' | 'pausedAt'> {
  const base = { consumer: c.decl.durable, stream: c.decl.stream };
  if (!('info' in c)) {
    return { ...base, pending: null, ackPending: null, redelivered: null, waiting: null, lastActive: null, ackRate: null, rateWindowSeconds: null, error: message(c.error) };
  }
  return {
    ...base,
    pending: c.info.num_pending,
    ackPending: c.info.num_ack_pending,
    redelivered: c.info.num_redelivered,
    waiting: c.info.num_waiting,
    lastActive: latest(c.info.delivered?.last_active, c.info.ack_floor?.last_active),
    ackRate: rate?.perSecond ?? null,
    rateWindowSeconds: rate?.windowSeconds ?? null,
    error: null,
  };
}

const key = (c: ConsumerState) => `${c.decl.stream}/${c.decl.durable}`;
const floorOf = (c: ConsumerState) => ('info' in c ? (c.info.ack_floor?.consumer_seq ?? 0) : 0);

/** JetStream reports last_active as an RFC 3339 time (typed as nanos in the client); absent on old servers. */
function latest(...values: unknown[]): string | null {
  const times = values.map((v) => (typeof v === 'string' ? Date.parse(v) : NaN)).filter((t) => Number.isFinite(t) && t > 0);
  return times.length === 0 ? null : new Date(Math.max(...times)).toISOString();
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
