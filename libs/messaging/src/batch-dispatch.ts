import type { ConsumerMessages } from '@nats-io/jetstream';
import { JetStreamBatchContext } from './context.js';
import type { Dispatch } from './dispatch.js';
import type { Outcome } from './metrics.js';
import { parse, TrackedContext, type BatchRoute } from './routes.js';
import { traceProcessBatch } from './tracing.js';

/**
 * Runs the messages of batch routes (internal): collects delivered messages into a batch until it is
 * full or its oldest waited `maxWaitMs`, runs the batch handler in one of the route's batch slots,
 * and acks the batch or leaves its failure to the shared policy ({@link Dispatch}).
 */
export class BatchDispatcher {
  constructor(private readonly d: Dispatch) {}

  async drain(route: BatchRoute, messages: ConsumerMessages): Promise<void> {
    const { maxBatch, maxWaitMs } = route.spec;
    for await (const m of messages) {
      if (this.d.stopping) {
        m.nak();
        continue;
      }
      this.d.observeQueueWait(route, m);
      const parsed = parse(route.schema, m.data);
      if (!parsed.ok) {
        // Dead-lettered on its own: one bad entry must not hold up or fail the batch.
        route.busy++;
        void this.d.deadLetterOrRetry(route, m, 'invalid_message', parsed.detail, undefined).finally(() => route.release());
        continue;
      }
      route.buffer.push(new TrackedContext(m, route, this.d.shutdown.signal, this.d.draining.signal));
      route.items.push(parsed.data);
      if (route.buffer.length === 1) route.timer = setTimeout(() => this.onBatchTimer(route), maxWaitMs);
      if (route.buffer.length >= maxBatch) {
        while (route.batchesInFlight >= route.limit && !this.d.stopping) await route.waitForWake();
        // Stopping: keep iterating (no break) so what the session already holds is naked.
        if (!this.d.stopping) this.flush(route);
      }
    }
    // Paused: the session was closed, but what it delivered is run (finish what is held).
    if (route.paused && !this.d.stopping && route.buffer.length > 0) {
      while (route.batchesInFlight >= route.limit && !this.d.stopping) await route.waitForWake();
      if (!this.d.stopping) this.flush(route);
    }
    this.nakBuffered(route);
  }

  private onBatchTimer(route: BatchRoute): void {
    route.timer = undefined;
    if (route.buffer.length === 0 || this.d.stopping) return;
    if (route.batchesInFlight < route.limit) this.flush(route);
    else route.due = true;
  }

  private flush(route: BatchRoute): void {
    clearTimeout(route.timer);
    route.timer = undefined;
    route.due = false;
    const batch = route.buffer;
    const items = route.items;
    route.buffer = [];
    route.items = [];
    route.batchesInFlight++;
    route.busy++;
    void this.runBatch(route, batch, items);
  }

  private async runBatch(route: BatchRoute, batch: TrackedContext[], items: unknown[]): Promise<void> {
    const started = performance.now();
    route.activeBatches.add(batch);
    let outcome: Outcome = 'ack';
    try {
      await traceProcessBatch(route, batch.map((ctx) => ctx.message), () =>
        this.d.riding(route, () => route.handler(items, new JetStreamBatchContext(batch, this.d.shutdown.signal))),
      );
      for (const ctx of batch) if (!ctx.abandoned && !ctx.handedBack) this.d.ack(ctx.message);
      route.counters.ack.inc(batch.length);
    } catch (err) {
      outcome = await this.d.handleBatchFailure(route, batch, err);
    } finally {
      route.activeBatches.delete(batch);
      route.batchDuration[outcome].observe((performance.now() - started) / 1000);
      route.batchesInFlight--;
      // A batch that came due while every slot was busy goes now.
      if (route.due && route.buffer.length > 0 && !this.d.stopping) this.flush(route);
      route.release();
    }
  }

  nakBuffered(route: BatchRoute): void {
    clearTimeout(route.timer);
    route.timer = undefined;
    for (const ctx of route.buffer) ctx.message.nak();
    route.buffer = [];
    route.items = [];
  }

  /** working() for every collected or running message not heard of for a heartbeat period. */
  beat(route: BatchRoute, now: number): void {
    for (const held of [...route.buffer, ...[...route.activeBatches].flat()]) {
      if (now - held.lastBeat >= route.heartbeatMs) {
        held.working();
        held.lastBeat = now;
      }
    }
  }
}
