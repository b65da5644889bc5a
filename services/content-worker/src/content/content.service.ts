import { Inject, Injectable } from '@nestjs/common';
import { failsForGood, InvalidMessageError, storedError, type ContentGenerateMessage } from '@roadmap/contracts';
import { contentPrompt, LLM_PROVIDER, type ContentInput, type LlmProvider } from '@roadmap/llm';
import { ExecutionLogger, histogram } from '@roadmap/observability';
import { TaskEvents } from '@roadmap/runtime';
import { ContentRepository, type ItemContext, type ItemOutcome } from './content.repository.js';

const itemDuration = histogram('roadmap_content_item_duration_seconds', 'Duration of one content item', ['kind', 'outcome']);

export interface GenerateOptions {
  signal: AbortSignal;
  isLastDelivery: boolean;
}

/**
 * Generates one content item. Idempotent: an item already in a final state is acknowledged without
 * work, the result is written by a guarded update, and the roadmap completes exactly once.
 */
@Injectable()
export class ContentService {
  constructor(
    @Inject(ContentRepository) private readonly repository: ContentRepository,
    @Inject(LLM_PROVIDER) private readonly llm: LlmProvider,
    @Inject(TaskEvents) private readonly events: TaskEvents,
    @Inject(ExecutionLogger) private readonly executionLog: ExecutionLogger,
  ) {}

  async generate(message: ContentGenerateMessage, options: GenerateOptions): Promise<void> {
    const { taskId, roadmapId, conceptId, kind } = message;
    const item = await this.repository.load(roadmapId, conceptId, kind);
    if (!item) throw new InvalidMessageError(`no content item ${kind} for concept ${conceptId} of roadmap ${roadmapId}`);
    if (item.itemStatus === 'completed' || item.itemStatus === 'failed') return;
    if (item.taskStatus !== 'running') {
      await this.executionLog.info(`content item skipped: task is ${item.taskStatus}`, { taskId, step: kind });
      return;
    }
    if (!item.intent || !item.framework) throw new InvalidMessageError(`roadmap ${roadmapId} has no framework yet`);

    const started = performance.now();
    await this.repository.markRunning(item.itemId);
    try {
      const result = await this.llm.generate<ContentInput, unknown>(
        contentPrompt(kind),
        contentPromptInput({ roadmapTitle: item.framework.title, intent: item.intent, stage: item.stage, concept: item.concept }),
        { signal: options.signal },
      );
      const outcome = await this.repository.complete(roadmapId, item.itemId, {
        content: result.output,
        provider: result.provider,
        model: result.model,
        promptVersion: result.promptVersion,
        inputTokens: result.usage.inputTokens,
        outputTokens: result.usage.outputTokens,
      });
      itemDuration.observe({ kind, outcome: 'completed' }, (performance.now() - started) / 1000);
      if (outcome.changed) {
        await this.events.publish({ type: 'item.completed', taskId, conceptId, kind, progress: outcome.progress }, `${conceptId}:${kind}`);
        await this.executionLog.info(`${kind} for "${item.concept.title}" generated`, {
          taskId,
          step: kind,
          data: { conceptId, durationMs: Math.round(performance.now() - started), tokens: result.usage },
        });
        await this.announceFinish(taskId, outcome);
      }
    } catch (error) {
      if (failsForGood(error, options.isLastDelivery)) {
        const reason = storedError(error);
        const outcome = await this.repository.fail(roadmapId, item.itemId, reason);
        itemDuration.observe({ kind, outcome: 'failed' }, (performance.now() - started) / 1000);
        if (outcome.changed) {
          await this.events.publish(
            { type: 'item.failed', taskId, conceptId, kind, error: `${reason.code}: ${reason.message}`, progress: outcome.progress },
            `${conceptId}:${kind}`,
          );
          await this.executionLog.error(`${kind} for "${item.concept.title}" failed: ${reason.message}`, {
            taskId,
            step: kind,
            data: { conceptId, code: reason.code },
          });
          await this.announceFinish(taskId, outcome);
        }
      }
      throw error;
    }
  }

  private async announceFinish(taskId: string, outcome: ItemOutcome): Promise<void> {
    if (outcome.finished === 'completed') {
      await this.events.publish({ type: 'task.completed', taskId, progress: outcome.progress }, 'final');
      await this.executionLog.info('roadmap completed', { taskId, data: outcome.progress });
    } else if (outcome.finished === 'failed') {
      const error = `${outcome.progress.failed} of ${outcome.progress.total} content items failed`;
      await this.events.publish({ type: 'task.failed', taskId, error }, 'final');
      await this.executionLog.error(`roadmap finished with failures: ${error}`, { taskId, data: outcome.progress });
    }
  }
}

/** The content prompts' input, built from what the item's row joins (the concept's id is its slug). */
function contentPromptInput(input: Omit<ContentInput, 'concept'> & { concept: ItemContext['concept'] }): ContentInput {
  const { slug, ...rest } = input.concept;
  return { roadmapTitle: input.roadmapTitle, intent: input.intent, stage: input.stage, concept: { id: slug, ...rest } };
}
