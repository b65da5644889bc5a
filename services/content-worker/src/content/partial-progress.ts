import { PARTIAL_EXCERPT_CHARS } from '@roadmap/contracts';
import type { LlmPartial } from '@roadmap/llm';

/** At most one `item.partial` event per item in this many milliseconds. */
export const PARTIAL_EVENT_INTERVAL_MS = 500;

/** What an `item.partial` event says beyond its task and item. */
export interface PartialSnapshot {
  chars: number;
  outputTokens: number;
  excerpt: string;
}

/**
 * Turns a streamed call's partial output into throttled progress: the first partial and then at
 * most one every `intervalMs`, each a small snapshot (counts and the tail of the text, never the
 * whole text: the content itself is read from PostgreSQL once complete). Publishes are chained, so
 * they go out in order and `settled()` lets the caller publish `item.completed` after the last one.
 */
export class PartialProgress {
  private lastAt = Number.NEGATIVE_INFINITY;
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly publish: (snapshot: PartialSnapshot) => Promise<void>,
    private readonly intervalMs = PARTIAL_EVENT_INTERVAL_MS,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** The `onPartial` callback for generate(): cheap, never throws, never waits. */
  readonly onPartial = (partial: LlmPartial): void => {
    const now = this.now();
    if (now - this.lastAt < this.intervalMs) return;
    this.lastAt = now;
    const snapshot = { chars: partial.text.length, outputTokens: Math.max(0, Math.round(partial.outputTokens)), excerpt: partial.text.slice(-PARTIAL_EXCERPT_CHARS) };
    // The publisher logs and swallows its own failures; a rejected link must not break the chain either.
    this.chain = this.chain.then(() => this.publish(snapshot)).catch(() => undefined);
  };

  /** Resolves when every partial published so far has been handed to the publisher. */
  settled(): Promise<void> {
    return this.chain;
  }
}
