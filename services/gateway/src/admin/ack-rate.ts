/**
 * Messages acknowledged per second by a consumer, from samples of its ack floor kept in memory.
 *
 * JetStream keeps no rate, only counters: `ack_floor.consumer_seq` is the delivery sequence below
 * which every delivery of the consumer is acknowledged. Its increase over a window, divided by the
 * window, is the rate at which deliveries were acknowledged (a retried message counts once per
 * delivery; acks out of order show when the floor catches up). The gateway samples every consumer
 * every {@link SAMPLE_EVERY_MS} and keeps {@link WINDOW_MS} of samples, so a request compares its own
 * reading with the oldest sample of the last minute. A consumer that was recreated (its floor went
 * down) starts a new window.
 */
export const SAMPLE_EVERY_MS = 10_000;
export const WINDOW_MS = 60_000;
/** Windows shorter than this give no rate (the two readings are too close to mean anything). */
export const MIN_WINDOW_MS = 1_000;

interface Sample {
  readonly at: number;
  readonly floor: number;
}

export class AckRates {
  private readonly samples = new Map<string, Sample[]>();

  /** Records a reading of a consumer's ack floor at `at` (ms) and drops samples older than the window. */
  record(key: string, floor: number, at: number): void {
    let list = this.samples.get(key);
    if (!list) this.samples.set(key, (list = []));
    const last = list.at(-1);
    if (last && floor < last.floor) list.length = 0; // the consumer was recreated
    list.push({ at, floor });
    while (list.length > 1 && at - list[0]!.at > WINDOW_MS) list.shift();
  }

  /** Acknowledgements per second between the oldest sample in the window and this reading; null when too soon. */
  rate(key: string, floor: number, at: number): { perSecond: number; windowSeconds: number } | null {
    const oldest = this.samples.get(key)?.find((s) => at - s.at <= WINDOW_MS);
    if (!oldest || at - oldest.at < MIN_WINDOW_MS || floor < oldest.floor) return null;
    const seconds = (at - oldest.at) / 1000;
    return { perSecond: Math.round(((floor - oldest.floor) / seconds) * 100) / 100, windowSeconds: Math.round(seconds * 10) / 10 };
  }
}
