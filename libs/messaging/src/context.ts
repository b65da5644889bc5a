import type { JsMsg } from '@nats-io/jetstream';
import { Headers } from '@roadmap/contracts';

/** What a context needs to know about the consumer it was delivered by (shared by all its messages). */
export interface ContextRoute {
  readonly durable: string;
  readonly maxDeliver: number;
  logicalSubject(actual: string): string;
  /** Set while an operator has paused the consumer. */
  readonly paused?: unknown;
  /** Resolves once the consumer is not paused (at once when it is not). */
  whenResumed?(): Promise<void>;
}

/**
 * Everything about one delivered message except its payload: passed as the second argument of a
 * `@JetStreamHandler` method (`@Ctx()`). Properties are computed on first read, so the fast path
 * pays only for what a handler uses.
 */
export class JetStreamContext {
  private headerRecord?: Readonly<Record<string, string>>;
  private logical?: string;

  constructor(
    /** The raw JetStream message (escape hatch; prefer the properties below). */
    readonly message: JsMsg,
    private readonly route: ContextRoute,
    /** Aborted when the service shuts down and the grace period ran out: stop and throw. */
    readonly signal: AbortSignal,
    /**
     * Aborted as soon as the service begins to shut down (the grace period starts): work not begun
     * yet should not begin; {@link handBack} returns its message.
     */
    readonly draining: AbortSignal = signal,
  ) {}

  private handed = false;

  /**
   * Returns the message to the stream now, for another delivery (a nak, no delivery spent on a
   * failure): for work that had not started when the service began to shut down. The handler then
   * returns without effects; nothing acks the message.
   */
  handBack(): void {
    if (this.handed) return;
    this.handed = true;
    this.message.nak();
  }

  /**
   * Whether an operator has paused this message's consumer (POST admin/queues/:stream/pause). The
   * server starts nothing new while it is; a handler that waits before its real work (for an LLM
   * slot) can wait for {@link whenResumed} too, so a pause also holds work already delivered.
   */
  get paused(): boolean {
    return Boolean(this.route.paused);
  }

  /**
   * Resolves once the consumer is not paused: at once when it is not, else on resume or when the
   * service begins to shut down (then check {@link draining}). The message stays held and
   * heartbeated meanwhile; no delivery is spent.
   */
  whenResumed(): Promise<void> {
    return this.route.whenResumed?.() ?? Promise.resolve();
  }

  /** The handler handed the message back ({@link handBack}). */
  get handedBack(): boolean {
    return this.handed;
  }

  /** Durable name of the consumer that delivered the message. */
  get consumer(): string {
    return this.route.durable;
  }

  /** Logical subject (`content.generate.normal.quiz`), without the namespace. */
  get subject(): string {
    return (this.logical ??= this.route.logicalSubject(this.message.subject));
  }

  /** Sequence of the message in its stream: stable across redeliveries. */
  get streamSequence(): number {
    return this.message.info.streamSequence;
  }

  /** 1 on the first delivery, 2 on the first redelivery, ... */
  get deliveryCount(): number {
    return this.message.info.deliveryCount;
  }

  /** True when a failure now dead-letters the message instead of retrying it. */
  get isLastDelivery(): boolean {
    return this.message.info.deliveryCount >= this.route.maxDeliver;
  }

  /** Message headers, one value per key (the last one). Trace context lives here (`traceparent`). */
  get headers(): Readonly<Record<string, string>> {
    if (this.headerRecord === undefined) {
      const record: Record<string, string> = {};
      const hdrs = this.message.headers;
      if (hdrs) for (const [key, values] of hdrs) record[key] = values[values.length - 1] ?? '';
      this.headerRecord = record;
    }
    return this.headerRecord;
  }

  /** `Nats-Msg-Id` the publisher set, if any. */
  get msgId(): string | undefined {
    return this.message.headers?.get(Headers.msgId) || undefined;
  }

  /**
   * Tells the server the message is still being worked on (resets its ack wait). The server already
   * does this every third of the ack wait while the handler runs; call it for finer control.
   */
  working(): void {
    this.message.working();
  }
}

/** Second argument of a `@JetStreamBatchHandler` method: the batch's messages and its lifecycle. */
export class JetStreamBatchContext {
  constructor(
    /** Contexts of the batch's messages, in the same order as the payloads. */
    readonly messages: readonly JetStreamContext[],
    /** Aborted when the service shuts down and the grace period ran out. */
    readonly signal: AbortSignal,
  ) {}

  /** Number of messages in the batch. */
  get size(): number {
    return this.messages.length;
  }

  /** Resets the ack wait of every message of the batch. */
  working(): void {
    for (const ctx of this.messages) ctx.working();
  }
}
