import { Inject, Injectable, Optional } from '@nestjs/common';
import { failsForGood, InvalidMessageError, storedError, type ContentGenerateMessage, type Priority } from '@roadmap/contracts';
import { contentPrompt, LLM_PROVIDER, type ContentInput, type LlmProvider, type LlmResult } from '@roadmap/llm';
import { ExecutionLogger, histogram, type Logger } from '@roadmap/observability';
import { TimeLimitExceeded } from '@roadmap/messaging';
import { Batcher, Cancellation, KeyedBatcher, LlmCallRecorder, LOGGER, Slots, TaskEvents } from '@roadmap/runtime';
import { FairDispatcher, type FairDispatchOptions } from '@roadmap/workflow';
import { budgetAnnouncements, itemAnnouncements, itemLogEntries } from './content-announcements.js';
import { ContentRepository, type ClaimEntry, type FinishEntry, type ItemContext, type ItemKey, type ItemOutcome } from './content.repository.js';
import { PartialProgress } from './partial-progress.js';

const llmSlotWait = histogram('roadmap_content_llm_slot_wait_seconds', 'Time a delivered content message waited for one of its worker\'s LLM slots', ['priority'], [0.001, 0.005, 0.025, 0.1, 0.5, 2.5, 10, 60]);
const itemDuration = histogram('roadmap_content_item_duration_seconds', 'Duration of one content item', ['kind', 'outcome']);

/** Injection token of the content service's options. */
export const CONTENT_OPTIONS = Symbol('CONTENT_OPTIONS');

export interface ContentOptions {
  /** LLM calls at once per priority in this process (WORKER_CONCURRENCY, by PRIORITY_SHARE). */
  readonly llmSlots: Readonly<Record<Priority, number>>;
  /** DISPATCH_*: the owners' windows of content items in flight. */
  readonly dispatch: FairDispatchOptions;
}

/** What the service needs of a delivery. */
export interface Delivery {
  /** Aborts at shutdown (past the grace period). */
  signal: AbortSignal;
  /** A failure now fails the item for good. */
  isLastDelivery: boolean;
  /** Aborts when the worker begins to shut down: an item still waiting for an LLM slot goes back. */
  draining?: AbortSignal;
  /** Returns the message for another delivery (no attempt spent): the handler then returns. */
  handBack?(): void;
  /** Resolves once the consumer is not paused by an operator (at once when it is not). */
  whenResumed?(): Promise<void>;
}

/**
 * Generates one content item. Idempotent: an item already in a final state, of another generation
 * (regenerated since) or of a task no longer running is acknowledged without work; the result is
 * written by a guarded update, and the roadmap completes exactly once.
 */
@Injectable()
export class ContentService {
  /**
   * Group commit: messages delivered together read their items in one statement; handlers whose
   * slots free together (a wave of LLM calls ending together) claim their next items in one
   * statement, and finish theirs in one statement per roadmap, instead of one each contending for
   * the same roadmap and task rows.
   */
  private readonly reads: Batcher<ItemKey, ItemContext | null>;
  private readonly claims: Batcher<ClaimEntry, boolean>;
  private readonly finishes: KeyedBatcher<FinishEntry, ItemOutcome>;
  /** The LLM slots per priority; the consumer holds a few more messages (WORKER_STANDBY), waiting for one. */
  private readonly llmSlots: Record<Priority, Slots>;

  constructor(
    @Inject(ContentRepository) private readonly repository: ContentRepository,
    @Inject(LLM_PROVIDER) private readonly llm: LlmProvider,
    @Inject(TaskEvents) private readonly events: TaskEvents,
    @Inject(ExecutionLogger) private readonly executionLog: ExecutionLogger,
    @Inject(Cancellation) private readonly cancellation: Cancellation,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(CONTENT_OPTIONS) options: ContentOptions,
    @Inject(FairDispatcher) private readonly dispatcher: Pick<FairDispatcher, 'request'>,
    @Optional() @Inject(LlmCallRecorder) private readonly llmCalls?: LlmCallRecorder,
  ) {
    this.llmSlots = { high: new Slots(options.llmSlots.high), normal: new Slots(options.llmSlots.normal), low: new Slots(options.llmSlots.low) };
    this.reads = new Batcher((keys) => this.repository.readMany(keys), { name: 'content_read', maxBatch: 64, maxInFlight: 2 });
    this.claims = new Batcher((entries) => this.repository.claimMany(entries), { name: 'content_claim', maxBatch: 64, maxInFlight: 2 });
    this.finishes = new KeyedBatcher(
      async (roadmapId, entries) => {
        // The items' call records (and usage) are written before they count as done: a completed task's usage is final.
        await this.llmCalls?.flush();
        return this.repository.finishMany(roadmapId, entries);
      },
      // One statement per roadmap at a time: the next batch gathers while it commits.
      { name: 'content_finish', maxBatch: 64, maxInFlight: 1 },
    );
  }

  async generate(message: ContentGenerateMessage, delivery: Delivery): Promise<void> {
    const { taskId, roadmapId, conceptId, kind, generation } = message;
    // Read first, changing nothing: a message that needs no work never waits for an LLM slot, and
    // one that does waits with its item untouched (still pending, no attempt counted).
    const item = await this.reads.submit({ roadmapId, conceptId, kind });
    if (!item) throw new InvalidMessageError(`no content item ${kind} for concept ${conceptId} of roadmap ${roadmapId}`);
    if (generation > item.generation) {
      // Messages go out through the outbox after their transaction committed: a generation the item
      // never had was not made by this platform.
      throw new InvalidMessageError(`generation ${generation} of ${kind} for concept ${conceptId} was never written (the item is at ${item.generation})`);
    }
    const skip = skipReason(item, generation);
    if (skip) {
      this.logger.debug({ taskId, conceptId, kind, generation }, `content message skipped: ${skip}`);
      // Delivered again after the item reached its final state (a redelivery, a replay): its events
      // and log entries went to the outbox with its completion. The log entries are written again
      // all the same, under the same ids (the sink stores an id once, however late): an entry lost
      // downstream comes back, none is stored twice. Events are not: the stream's duplicate window
      // is minutes, so a late repeat would be a second event.
      if (item.generation === generation && item.finishedAt) await this.logAgain(message, item);
      return;
    }
    if (!item.intent || item.roadmapTitle === null) throw new InvalidMessageError(`roadmap ${roadmapId} has no framework yet`);
    // The slot wait is inside the task's cancellation: a cancel frees a waiting message at once.
    await this.cancellation.run(taskId, delivery.signal, (signal) => this.produce(message, delivery, item, signal));
  }

  /**
   * Records an item's end; its owner's window then has room, so the next held items are released
   * (coalesced: one release per lane runs at a time, the finishes meanwhile ask for one more).
   */
  private async finished(message: ContentGenerateMessage, entry: FinishEntry): Promise<ItemOutcome> {
    const outcome = await this.finishes.submit(message.roadmapId, entry);
    if (outcome.changed) this.dispatcher.request(message.priority, 'content');
    return outcome;
  }

  /** The item's generation: the call (under an LLM slot), then its result or failure recorded and announced. */
  private async produce(message: ContentGenerateMessage, delivery: Delivery, item: ItemContext, signal: AbortSignal): Promise<void> {
    const { taskId, roadmapId, conceptId, kind, generation } = message;
    // Tutorials are long: streamed, with throttled `item.partial` events so a front end can show them arriving.
    const partial =
      kind === 'tutorial'
        ? new PartialProgress((snapshot) =>
            this.events.publish({ type: 'item.partial', taskId, conceptId, kind, ...snapshot }, `${conceptId}:${kind}:${generation}:${snapshot.chars}`),
          )
        : undefined;
    // When the item's LLM slot was granted: its duration is measured from there, not from the wait.
    const timing = { started: performance.now() };
    try {
      const result = await this.call(message, delivery, item, signal, partial, timing);
      if (!result) return;
      await partial?.settled(); // the last partial goes out before the completion commits its item.completed
      await this.finished(message, {
        itemId: item.itemId,
        generation,
        result: {
          status: 'completed',
          content: result.output,
          provider: result.provider,
          model: result.model,
          promptVersion: result.promptVersion,
          inputTokens: result.usage.inputTokens,
          outputTokens: result.usage.outputTokens,
        },
        announce: (outcome) =>
          itemAnnouncements(this.executionLog, message, outcome, {
            itemId: item.itemId,
            title: item.concept.title,
            data: { durationMs: Math.round(performance.now() - timing.started), tokens: result.usage },
          }),
      });
      itemDuration.observe({ kind, outcome: 'completed' }, (performance.now() - timing.started) / 1000);
    } catch (error) {
      // Cancelled by a person: stop quietly, write nothing. Aborted at shutdown: the server hands
      // the message back; nothing is marked failed. Stopped at the soft time limit: retried, and
      // the item fails (TIME_LIMIT) only when this was its last delivery.
      if (signal.aborted && Cancellation.isCancellation(signal)) return;
      const timedOut = TimeLimitExceeded.isTimeLimit(signal);
      if (signal.aborted && !timedOut) throw error;
      if (timedOut ? delivery.isLastDelivery : failsForGood(error, delivery.isLastDelivery)) {
        const reason = timedOut ? { code: 'TIME_LIMIT', message: (signal.reason as Error).message } : storedError(error);
        // A spent LLM budget stops the whole task with that reason (the other items cannot be made
        // either): the stop announces the task's end, not the item's completion.
        const budget = reason.code === 'LLM_BUDGET_EXHAUSTED';
        await this.finished(message, {
          itemId: item.itemId,
          generation,
          result: { status: 'failed', error: reason },
          announce: (outcome) => itemAnnouncements(this.executionLog, message, outcome, { itemId: item.itemId, title: item.concept.title, error: reason, announceFinish: !budget }),
        });
        itemDuration.observe({ kind, outcome: 'failed' }, (performance.now() - timing.started) / 1000);
        if (budget) await this.stopForBudget(taskId, roadmapId, reason, `${conceptId}:${kind}:${generation}`);
      }
      throw error;
    }
  }

  /**
   * Waits for one of the priority's LLM slots, then claims the item and makes the call, holding the
   * slot for the call alone. The claim and the call start together, so the claim's round trip is
   * not on the slot's path; if the claim finds the item moved on while the message waited (finished
   * by another delivery, regenerated, its task cancelled), the call is aborted before anything of
   * it counts. Null when there is nothing to record: the claim found the item moved on, or the
   * worker began to shut down before the message's turn (the message went back untouched).
   */
  private async call(
    message: ContentGenerateMessage,
    delivery: Delivery,
    item: ItemContext,
    signal: AbortSignal,
    partial: PartialProgress | undefined,
    timing: { started: number },
  ): Promise<LlmResult<unknown> | null> {
    const { taskId, roadmapId, conceptId, kind, generation } = message;
    const waited = performance.now();
    let release: () => void;
    try {
      // A paused queue holds what it was already delivered before it takes an LLM slot.
      await delivery.whenResumed?.();
      release = await this.llmSlots[message.priority].acquire(delivery.draining ? AbortSignal.any([signal, delivery.draining]) : signal);
    } catch (error) {
      if (signal.aborted || !delivery.draining?.aborted || !delivery.handBack) throw error;
      // The worker began to shut down before this message's turn: it goes back to the stream now
      // rather than start a call within the grace period.
      delivery.handBack();
      return null;
    }
    timing.started = performance.now();
    llmSlotWait.observe({ priority: message.priority }, (timing.started - waited) / 1000);
    try {
      const claiming = this.claims.submit({ itemId: item.itemId, generation });
      let claimed = false;
      const moved = new AbortController();
      const calling = this.llm.generate<ContentInput, unknown>(
        contentPrompt(kind),
        contentPromptInput({ roadmapTitle: item.roadmapTitle!, intent: item.intent!, stage: item.stage, concept: item.concept }),
        {
          signal: AbortSignal.any([signal, moved.signal]),
          // A regeneration (retry, resume) asks for something new: no cached response.
          context: { taskId, roadmapId, owner: item.owner, subject: `${conceptId}:${kind}`, fresh: generation > 0, definitionVersion: item.workflowVersion },
          // No progress is shown for an item before it is claimed.
          onPartial: partial && ((p) => claimed && partial.onPartial(p)),
        },
      );
      // The call may fail before the claim answers: its rejection is observed here, and rethrown below.
      const settled = calling.then(
        () => undefined,
        () => undefined,
      );
      try {
        claimed = await claiming;
      } catch (error) {
        moved.abort(error);
        await settled;
        throw error;
      }
      if (!claimed) {
        this.logger.debug({ taskId, conceptId, kind, generation }, 'content message skipped: the item moved on while it waited');
        moved.abort(new Error('the item moved on'));
        await settled;
        return null;
      }
      return await calling;
    } finally {
      release();
    }
  }

  /** The log entries of a final item (and of its task's end, if it ended the task) written again after a redelivery. */
  private async logAgain(message: ContentGenerateMessage, item: ItemContext): Promise<void> {
    const { done, failed, total } = item.progress;
    const ended = (item.taskStatus === 'completed' || item.taskStatus === 'failed') && done + failed === total;
    const entries = itemLogEntries(
      message,
      { progress: item.progress, finishedAt: item.finishedAt, finished: ended ? (item.taskStatus as 'completed' | 'failed') : null, taskFinishedAt: item.taskFinishedAt },
      { itemId: item.itemId, title: item.concept.title, ...(item.itemStatus === 'failed' && { error: item.error ?? { code: 'INTERNAL', message: 'failed' } }) },
    );
    await Promise.all(entries.map((e) => this.executionLog.log(e.level, e.message, e.context)));
  }

  /** Ends the task as failed with the budget's message; announced once (with the failure), by the item that ended it. */
  private async stopForBudget(taskId: string, roadmapId: string, reason: { code: string; message: string }, key: string): Promise<void> {
    await this.repository.failTask(taskId, roadmapId, reason, budgetAnnouncements(this.executionLog, taskId, reason, key));
  }
}

/** Why a message needs no work, if it does not. */
function skipReason(item: ItemContext, generation: number): string | null {
  if (item.generation !== generation) return `stale generation ${generation} (item is at ${item.generation})`;
  if (item.itemStatus === 'completed' || item.itemStatus === 'failed') return `item already ${item.itemStatus}`;
  if (item.taskStatus !== 'running') return `task is ${item.taskStatus}`;
  return null;
}

/** The content prompts' input, built from what the item's row joins (the concept's id is its slug). */
function contentPromptInput(input: Omit<ContentInput, 'concept'> & { concept: ItemContext['concept'] }): ContentInput {
  const { slug, ...rest } = input.concept;
  return { roadmapTitle: input.roadmapTitle, intent: input.intent, stage: input.stage, concept: { id: slug, ...rest } };
}
