import { histogram } from '@roadmap/observability';

const batchSize = histogram('roadmap_batch_size', 'Inputs per group-commit statement or transaction, by batcher', ['batcher'], [1, 2, 4, 8, 16, 32, 64, 128]);

/** How a Batcher groups calls. */
export interface BatcherOptions {
  /** The `batcher` label of roadmap_batch_size (batches are counted only when named). */
  readonly name?: string;
  /** Most inputs per call of `run`. */
  readonly maxBatch?: number;
  /**
   * Calls of `run` in progress at once (per key for a KeyedBatcher). While that many are running,
   * new inputs wait and leave together when one ends (Nagle's rule): the busier it gets, the larger
   * the batches, and a lone input never waits for a timer.
   */
  readonly maxInFlight?: number;
  /** Called after each batch has settled (a KeyedBatcher drops its batcher of a key once idle). */
  readonly afterBatch?: () => void;
}

interface Waiting<I, O> {
  input: I;
  resolve: (output: O) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit for statements: inputs submitted in the same event-loop turn go to one call of
 * `run`, which answers each input by position (same length, same order). A failed call rejects every
 * input of its batch with the same error, as each single statement would have failed.
 *
 * Used where many concurrent handlers each send a small statement that touches the same rows (a
 * roadmap's counters) or the same table: one round trip and one commit for all of them.
 */
export class Batcher<I, O> {
  private waiting: Waiting<I, O>[] = [];
  private inFlight = 0;
  private scheduled = false;
  private readonly maxBatch: number;
  private readonly maxInFlight: number;
  private readonly observeSize?: (size: number) => void;
  private readonly afterBatch?: () => void;

  constructor(
    private readonly run: (inputs: I[]) => Promise<O[]>,
    options: BatcherOptions = {},
  ) {
    this.afterBatch = options.afterBatch;
    this.maxBatch = Math.max(1, options.maxBatch ?? 64);
    this.maxInFlight = Math.max(1, options.maxInFlight ?? 2);
    if (options.name) {
      const child = batchSize.labels({ batcher: options.name });
      this.observeSize = (size) => child.observe(size);
    }
  }

  submit(input: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.waiting.push({ input, resolve, reject });
      this.schedule();
    });
  }

  /** Inputs waiting or being written (a KeyedBatcher drops an idle one). */
  get idle(): boolean {
    return this.inFlight === 0 && this.waiting.length === 0;
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.maxInFlight) return;
    this.scheduled = true;
    // After the I/O callbacks of this turn: handlers resumed by the same poll join the batch.
    setImmediate(() => {
      this.scheduled = false;
      this.drain();
    });
  }

  private drain(): void {
    while (this.inFlight < this.maxInFlight && this.waiting.length > 0) {
      const batch = this.waiting.splice(0, this.maxBatch);
      this.inFlight += 1;
      void this.execute(batch).finally(() => {
        this.inFlight -= 1;
        if (this.waiting.length > 0) this.schedule();
        this.afterBatch?.();
      });
    }
  }

  private async execute(batch: Waiting<I, O>[]): Promise<void> {
    this.observeSize?.(batch.length);
    try {
      const outputs = await this.run(batch.map((w) => w.input));
      if (outputs.length !== batch.length) throw new Error(`batch of ${batch.length} answered with ${outputs.length} results`);
      batch.forEach((w, i) => w.resolve(outputs[i] as O));
    } catch (error) {
      for (const w of batch) w.reject(error);
    }
  }
}

/**
 * One Batcher per key: inputs of the same key are batched together, keys never share a call. Used
 * when a statement must lock one parent row (one roadmap) per call, so concurrent calls of different
 * keys cannot deadlock on each other's rows.
 */
export class KeyedBatcher<I, O> {
  private readonly batchers = new Map<string, Batcher<I, O>>();

  constructor(
    private readonly run: (key: string, inputs: I[]) => Promise<O[]>,
    private readonly options: BatcherOptions = {},
  ) {}

  submit(key: string, input: I): Promise<O> {
    let batcher = this.batchers.get(key);
    if (!batcher) {
      const created: Batcher<I, O> = new Batcher<I, O>((inputs) => this.run(key, inputs), {
        ...this.options,
        afterBatch: () => {
          if (created.idle && this.batchers.get(key) === created) this.batchers.delete(key);
        },
      });
      this.batchers.set(key, created);
      batcher = created;
    }
    return batcher.submit(input);
  }

  /** Keys with inputs waiting or being written. */
  get activeKeys(): number {
    return this.batchers.size;
  }
}
