import type { OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import type { Logger } from '@roadmap/observability';

/** How a {@link Poller} runs. */
export interface PollerOptions {
  /** Time between two polls (jittered ±25 %). */
  readonly pollMs: number;
  /** false: this process never polls (its setting says so); the line logged instead. */
  readonly enabled?: boolean;
  readonly disabledMessage: string;
}

/**
 * A periodic poll of the workflow worker (scheduled maintenance, operator schedules): one tick now and
 * then one every `pollMs`, jittered so replicas started together do not all ask at once, never two at
 * a time in a process. Every replica polls; what makes a piece of work run once is the subclass's lock
 * or unique row, not this loop. stop() waits for the tick in progress, which sees `stopping` and ends
 * between two pieces of work.
 */
export abstract class Poller implements OnApplicationBootstrap, OnModuleDestroy {
  private timer?: NodeJS.Timeout;
  private ticking?: Promise<void>;
  private stopped = true;
  /** Set once stop() is called: a tick in progress ends at its next check. */
  protected stopping = false;

  protected constructor(
    protected readonly logger: Logger,
    private readonly poll: PollerOptions,
  ) {}

  onApplicationBootstrap(): void {
    if (this.poll.enabled === false) this.logger.info(this.poll.disabledMessage);
    else this.start();
  }

  onModuleDestroy(): Promise<void> {
    return this.stop();
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.stopping = false;
    this.started();
    this.schedule(0);
  }

  /** Stops polling and waits for the tick in progress, if any. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.stopping = true;
    clearTimeout(this.timer);
    await this.ticking;
  }

  /** One poll. */
  abstract tick(): Promise<void>;

  /** Called by start() before the first tick (says what this process now runs). */
  protected abstract started(): void;

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.ticking = this.tick().finally(() => {
        this.ticking = undefined;
        this.schedule(this.poll.pollMs * (0.75 + Math.random() * 0.5));
      });
    }, delayMs);
    this.timer.unref();
  }
}
