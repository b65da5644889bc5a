import type { LlmPartial } from '../provider.js';

/**
 * Passes a stream's growing text on at most every `intervalMs` (the first chunk at once), and the
 * final text once at the end, so a caller publishing progress gets a few calls, not one per token.
 */
export class PartialThrottle {
  private last = 0;
  private pending: LlmPartial | undefined;
  private sent = '';

  constructor(
    private readonly target: (partial: LlmPartial) => void,
    private readonly intervalMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  readonly push = (partial: LlmPartial): void => {
    const now = this.now();
    if (this.last === 0 || now - this.last >= this.intervalMs) {
      this.last = now;
      this.pending = undefined;
      this.emit(partial);
    } else {
      this.pending = partial;
    }
  };

  /** Sends what is held back (the end of the stream). */
  flush(): void {
    if (this.pending) this.emit(this.pending);
    this.pending = undefined;
  }

  private emit(partial: LlmPartial): void {
    if (partial.text === this.sent) return;
    this.sent = partial.text;
    try {
      this.target(partial);
    } catch {
      // A caller's progress hook must not fail the call.
    }
  }
}
