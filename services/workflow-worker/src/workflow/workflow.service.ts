import { Inject, Injectable, Optional } from '@nestjs/common';
import {
  failsForGood,
  isRetryable,
  PermanentError,
  RetryableError,
  storedError,
  Subjects,
  SupersededError,
  WORKFLOW_VERSION,
  type ContentGenerateMessage,
  type Framework,
  type IntentAnalysis,
  type Preferences,
  type Priority,
  type ValidationIssue,
  type WorkflowMessage,
  type WorkflowStep,
} from '@roadmap/contracts';
import { checkFramework, LLM_PROVIDER, PROMPTS, type LlmProvider, type LlmResult } from '@roadmap/llm';
import { JetStreamPublisher, TimeLimitExceeded } from '@roadmap/messaging';
import { ExecutionLogger, histogram, withSpan } from '@roadmap/observability';
import type { RevisionSource, WorkflowCheckpointEntity } from '@roadmap/persistence';
import { Cancellation, LlmCallRecorder, TaskEvents } from '@roadmap/runtime';
import { WORKFLOW_OPTIONS, type WorkflowOptions } from './workflow.options.js';
import { WorkflowRepository } from './workflow.repository.js';

const stepDuration = histogram('roadmap_workflow_step_duration_seconds', 'Duration of a workflow step', ['step', 'outcome']);

/** The prompt versions this worker runs with, recorded on the task at its first run. */
export const PROMPT_SET = Object.values(PROMPTS)
  .map((p) => p.version)
  .sort()
  .join(',');

/** Steps the loop runs: the LLM steps, the request for a person's review, and the fan-out. */
type LoopStep = WorkflowStep | 'review';

/** What the completed steps of a run add up to; rebuilt from checkpoints on every delivery. */
export interface RunState {
  intent?: IntentAnalysis;
  framework?: Framework;
  issues?: ValidationIssue[];
  /** Automatic edit rounds since the framework was last designed or revised on review. */
  autoEdits: number;
  /** Framework versions so far (roadmap_revisions). */
  revision: number;
  awaitingReview: boolean;
  approved: boolean;
  /** A review asked for changes that no edit has applied yet. */
  pendingFeedback?: { feedback: string; by: string };
  fannedOut: boolean;
  sequence: number;
}

export interface RunOptions {
  /** Aborted at shutdown. */
  signal: AbortSignal;
  /** The message will not be delivered again: a retryable failure now fails the task. */
  isLastDelivery: boolean;
}

interface RunContext {
  taskId: string;
  roadmapId: string;
  priority: Priority;
  reviewRequired: boolean;
  goal: string;
  preferences: Preferences;
  /** Whose task it is: LLM usage, budgets and call records are counted per owner. */
  owner: string;
  /** This run's lease (its attempt number) once it started: fences its writes against a newer run. */
  lease?: number;
}

/** Raised inside a run when the task stopped running under it (cancelled): stop writing, ack. */
class TaskStopped extends Error {}

/**
 * The framework workflow: intent analysis -> curriculum design -> validation -> (edit -> validation)*
 * -> [a person's review -> (edit with feedback -> validation)* ] -> fan-out of one content message
 * per concept and kind. Every step's validated output is checkpointed; a redelivered or resumed run
 * replays the checkpoints and continues after the last one, so a finished LLM call is never repeated.
 */
@Injectable()
export class WorkflowService {
  constructor(
    @Inject(WorkflowRepository) private readonly repository: WorkflowRepository,
    @Inject(LLM_PROVIDER) private readonly llm: LlmProvider,
    @Inject(JetStreamPublisher) private readonly publisher: JetStreamPublisher,
    @Inject(TaskEvents) private readonly events: TaskEvents,
    @Inject(ExecutionLogger) private readonly executionLog: ExecutionLogger,
    @Inject(WORKFLOW_OPTIONS) private readonly options: WorkflowOptions,
    @Inject(Cancellation) private readonly cancellation: Pick<Cancellation, 'run'>,
    @Optional() @Inject(LlmCallRecorder) private readonly llmCalls?: Pick<LlmCallRecorder, 'flush'>,
  ) {}

  async run(message: WorkflowMessage, options: RunOptions): Promise<void> {
    const run = await this.repository.load(message.taskId, message.roadmapId);
    // The gateway publishes inside its transaction: a message can arrive before the change that
    // goes with it is visible. It then comes back a moment later.
    const notYet = () => new RetryableError('NOT_VISIBLE_YET', `the ${message.command} of task ${message.taskId} is not visible yet`, { retryAfterMs: 250 });
    if (!run) throw notYet();
    const { task } = run;
    if (message.command === 'resume' && (task.status === 'failed' || task.status === 'cancelled')) throw notYet();
    if (['completed', 'failed', 'cancelled'].includes(task.status)) return;
    if (task.status === 'awaiting_review' && message.command !== 'review') return;
    const ctx: RunContext = {
      taskId: task.id,
      roadmapId: run.roadmap.id,
      priority: task.priority,
      reviewRequired: task.reviewMode === 'required',
      goal: run.roadmap.goal,
      preferences: run.roadmap.preferences,
      owner: task.owner,
    };
    const state = replay(run.checkpoints);

    await this.cancellation.run(ctx.taskId, options.signal, async (signal) => {
      try {
        if (task.workflowVersion !== WORKFLOW_VERSION) {
          throw new PermanentError(
            'WORKFLOW_VERSION_MISMATCH',
            `the task was started by ${task.workflowVersion}; this worker runs ${WORKFLOW_VERSION} and does not mix them`,
          );
        }
        if (message.command === 'review') {
          if (!state.awaitingReview || !message.review || message.review.revision !== state.revision) return; // a repeated or stale review
          if (task.status === 'awaiting_review') throw notYet();
          await this.recordReview(ctx, state, message.review);
        } else if (state.awaitingReview) {
          await this.repository.awaitReviewAgain(ctx.taskId, ctx.roadmapId); // resumed while waiting for a person
          return;
        }
        if (state.fannedOut) {
          if (message.command === 'resume') await this.resumeContent(ctx);
          return;
        }
        let step = this.nextStep(state, ctx);
        const lease = await this.repository.markRunning(ctx.taskId, step ?? 'fan_out', PROMPT_SET);
        if (lease === null) return;
        ctx.lease = lease;
        if (state.sequence > 0) await this.executionLog.info(`workflow continues after ${state.sequence} checkpoint(s)`, { taskId: ctx.taskId, step });
        while (step) {
          const current = step;
          await withSpan(`workflow step ${current}`, { attributes: { 'roadmap.task.id': ctx.taskId, 'roadmap.workflow.step': current } }, () => this.runStep(current, state, ctx, signal));
          step = this.nextStep(state, ctx);
        }
      } catch (error) {
        if (error instanceof TaskStopped || Cancellation.isCancellation(signal)) return;
        if (error instanceof SupersededError) throw error; // a newer run owns the task: write nothing more
        // Shutdown: the server hands the message back. Soft time limit: the next delivery resumes
        // from the checkpoints; the task fails (TIME_LIMIT) only when this was the last delivery.
        const timedOut = TimeLimitExceeded.isTimeLimit(signal);
        if (signal.aborted && !timedOut) throw error;
        if (timedOut ? options.isLastDelivery : failsForGood(error, options.isLastDelivery)) {
          const reason = timedOut ? { code: 'TIME_LIMIT', message: (signal.reason as Error).message } : storedError(error);
          await this.llmCalls?.flush(); // the run's call records before its end: a failed task's usage is final
          if (await this.repository.fail(ctx.taskId, ctx.roadmapId, reason, ctx.lease)) {
            await this.events.publish({ type: 'task.failed', taskId: ctx.taskId, error: `${reason.code}: ${reason.message}` }, `failed:${state.sequence}`);
            await this.executionLog.error(`workflow failed: ${reason.message}`, { taskId: ctx.taskId, data: { code: reason.code } });
          }
        }
        throw error;
      }
    });
  }

  private nextStep(state: RunState, ctx: RunContext): LoopStep | null {
    if (!state.intent) return 'intent_analysis';
    if (!state.framework) return 'curriculum_design';
    if (state.pendingFeedback) return 'edit';
    if (!state.issues) return 'validation';
    if (state.issues.some((i) => i.severity === 'error') && state.autoEdits < this.options.maxEditRounds) return 'edit';
    if (ctx.reviewRequired && !state.approved) return state.awaitingReview ? null : 'review';
    if (!state.fannedOut) return 'fan_out';
    return null;
  }

  private async recordReview(ctx: RunContext, state: RunState, review: NonNullable<WorkflowMessage['review']>): Promise<void> {
    const saved = await this.repository.saveCheckpoint(
      { taskId: ctx.taskId, sequence: state.sequence, step: 'review', state: { ...review }, promptVersion: null },
      { id: ctx.roadmapId },
    );
    if (!saved) throw new TaskStopped();
    applyCheckpoint(state, 'review', review);
    await this.executionLog.info(`review: ${review.decision}${review.decision === 'revise' ? ` ("${review.feedback}")` : ''}`, {
      taskId: ctx.taskId,
      step: 'review',
      data: { by: review.by, revision: state.revision },
    });
  }

  private async runStep(step: LoopStep, state: RunState, ctx: RunContext, signal: AbortSignal): Promise<void> {
    const started = performance.now();
    const { taskId } = ctx;
    const dedupe = `${step}:${state.sequence}`;
    await this.repository.setStep(taskId, step, ctx.lease);
    await this.events.publish({ type: 'step.started', taskId, step }, dedupe);
    await this.executionLog.info(`step ${step} started`, { taskId, step });
    let outcome = 'error';
    // Who the step's LLM call is for (usage, budgets, call records); edits with a person's feedback ask for something new.
    const llmContext = { taskId, roadmapId: ctx.roadmapId, owner: ctx.owner, subject: step, fresh: step === 'edit' && state.pendingFeedback !== undefined };
    try {
      switch (step) {
        case 'intent_analysis': {
          const result = await this.llm.generate(PROMPTS.intent_analysis, { goal: ctx.goal, preferences: ctx.preferences }, { signal, context: llmContext });
          await this.checkpoint(ctx, state, step, result, {}, { intent: result.output });
          break;
        }
        case 'curriculum_design': {
          const result = await this.llm.generate(PROMPTS.curriculum_design, { intent: need(state.intent) }, { signal, context: llmContext });
          await this.checkpoint(ctx, state, step, result, {}, { framework: result.output }, { source: 'design' });
          break;
        }
        case 'validation': {
          const result = await this.llm.generate(PROMPTS.validation, { intent: need(state.intent), framework: need(state.framework) }, { signal, context: llmContext });
          const structural = checkFramework(need(state.framework), state.intent);
          const issues = [...structural, ...result.output.issues];
          if (structural.some((i) => i.severity === 'error') && state.autoEdits >= this.options.maxEditRounds) {
            throw new PermanentError(
              'WORKFLOW_INVALID',
              `the framework is still invalid after ${state.autoEdits} edit round(s): ${structural
                .filter((i) => i.severity === 'error')
                .map((i) => i.message)
                .join('; ')}`,
            );
          }
          const report = { valid: !issues.some((i) => i.severity === 'error'), issues };
          await this.checkpoint(ctx, state, step, { ...result, output: report }, {}, { validationIssues: issues });
          break;
        }
        case 'edit': {
          const feedback = state.pendingFeedback;
          const result = await this.llm.generate(
            PROMPTS.edit,
            { intent: need(state.intent), framework: need(state.framework), issues: state.issues ?? [], feedback: feedback?.feedback ?? null },
            { signal, context: llmContext },
          );
          await this.checkpoint(ctx, state, step, result, feedback ? { feedback: feedback.feedback, by: feedback.by } : {}, { framework: result.output }, {
            source: feedback ? 'review' : 'validation',
            feedback: feedback?.feedback ?? null,
            by: feedback?.by ?? null,
          });
          break;
        }
        case 'review': {
          if (!(await this.repository.pauseForReview(taskId, ctx.roadmapId, state.sequence, state.revision, ctx.lease))) throw new TaskStopped();
          applyCheckpoint(state, 'review_requested', { revision: state.revision });
          await this.events.publish({ type: 'review.awaiting', taskId, revision: state.revision }, `review:${state.revision}`);
          break;
        }
        case 'fan_out': {
          const items = await this.repository.fanOut(taskId, ctx.roadmapId, need(state.framework), ctx.lease);
          if (!items) throw new TaskStopped();
          await this.publishContent(ctx, items.map((i) => ({ ...i, generation: 0 })));
          const saved = await this.repository.saveCheckpoint(
            { taskId, sequence: state.sequence, step, state: { items: items.length }, promptVersion: null },
            { id: ctx.roadmapId },
            undefined,
            ctx.lease,
          );
          if (!saved) throw new TaskStopped();
          applyCheckpoint(state, 'fan_out', undefined);
          await this.events.publish({ type: 'content.started', taskId, progress: { done: 0, failed: 0, total: items.length } }, 'fan_out');
          break;
        }
      }
      outcome = 'ok';
      await this.events.publish({ type: 'step.completed', taskId, step }, dedupe);
      await this.executionLog.info(`step ${step} completed`, { taskId, step, data: { durationMs: Math.round(performance.now() - started) } });
    } catch (error) {
      if (!(error instanceof TaskStopped) && !(error instanceof SupersededError) && !signal.aborted) {
        await this.executionLog.warn(`step ${step} failed: ${error instanceof Error ? error.message : String(error)}`, {
          taskId,
          step,
          data: { code: storedError(error).code, retryable: isRetryable(error) },
        });
      }
      throw error;
    } finally {
      stepDuration.observe({ step, outcome }, (performance.now() - started) / 1000);
    }
  }

  /** Resumes the content phase: regenerates what is not completed, keeps what is. */
  private async resumeContent(ctx: RunContext): Promise<void> {
    const items = await this.repository.resumeContent(ctx.taskId, ctx.roadmapId);
    if (items === null) return;
    await this.events.publish({ type: 'task.resumed', taskId: ctx.taskId }, `resume:${Date.now()}`);
    if (items.length === 0) {
      await this.events.publish({ type: 'task.completed', taskId: ctx.taskId, progress: { done: 0, failed: 0, total: 0 } }, `resume-complete:${Date.now()}`);
      return;
    }
    await this.publishContent(ctx, items);
    await this.executionLog.info(`content resumed: ${items.length} item(s) to generate, completed ones kept`, { taskId: ctx.taskId, step: 'fan_out' });
  }

  private async publishContent(ctx: RunContext, items: Array<{ conceptId: string; kind: ContentGenerateMessage['kind']; generation: number }>) {
    await this.publisher.publishMany(
      items.map((item) => ({
        subject: Subjects.contentGenerate(ctx.priority, item.kind),
        payload: {
          taskId: ctx.taskId,
          roadmapId: ctx.roadmapId,
          conceptId: item.conceptId,
          kind: item.kind,
          priority: ctx.priority,
          generation: item.generation,
        } satisfies ContentGenerateMessage,
        msgId: `content-generate:${ctx.roadmapId}:${item.conceptId}:${item.kind}:${item.generation}`,
      })),
    );
  }

  private async checkpoint<O>(
    ctx: RunContext,
    state: RunState,
    step: WorkflowStep,
    result: LlmResult<O>,
    extra: Record<string, unknown>,
    roadmapUpdate: { intent?: unknown; framework?: Framework; validationIssues?: unknown },
    revision?: { source: RevisionSource; feedback?: string | null; by?: string | null },
  ): Promise<void> {
    const saved = await this.repository.saveCheckpoint(
      {
        taskId: ctx.taskId,
        sequence: state.sequence,
        step,
        state: { output: result.output, ...extra, usage: result.usage, provider: result.provider, model: result.model, latencyMs: Math.round(result.latencyMs) },
        promptVersion: result.promptVersion,
      },
      { id: ctx.roadmapId, ...roadmapUpdate },
      revision ? { number: state.revision + 1, source: revision.source, feedback: revision.feedback ?? null, by: revision.by ?? null } : undefined,
      ctx.lease,
    );
    if (!saved) throw new TaskStopped();
    applyCheckpoint(state, step, { output: result.output, ...extra });
  }
}

/** Advances a run's state by one checkpoint: the single place that knows what each step means. */
function applyCheckpoint(state: RunState, step: string, data: unknown): void {
  const output = (data as { output?: unknown } | undefined)?.output;
  switch (step) {
    case 'intent_analysis':
      state.intent = output as IntentAnalysis;
      break;
    case 'curriculum_design':
      state.framework = output as Framework;
      state.revision += 1;
      break;
    case 'validation':
      state.issues = (output as { issues: ValidationIssue[] }).issues;
      break;
    case 'edit': {
      state.framework = output as Framework;
      state.issues = undefined;
      state.revision += 1;
      if ((data as { feedback?: string }).feedback !== undefined) {
        state.pendingFeedback = undefined;
        state.autoEdits = 0;
      } else {
        state.autoEdits += 1;
      }
      break;
    }
    case 'review_requested':
      state.awaitingReview = true;
      break;
    case 'review': {
      const review = data as NonNullable<WorkflowMessage['review']>;
      state.awaitingReview = false;
      if (review.decision === 'approve') state.approved = true;
      else state.pendingFeedback = { feedback: review.feedback, by: review.by };
      break;
    }
    case 'fan_out':
      state.fannedOut = true;
      break;
  }
  state.sequence += 1;
}

/** Rebuilds a run's state from its checkpoints, in order. */
export function replay(checkpoints: readonly Pick<WorkflowCheckpointEntity, 'step' | 'state'>[]): RunState {
  const state: RunState = { autoEdits: 0, revision: 0, awaitingReview: false, approved: false, fannedOut: false, sequence: 0 };
  for (const checkpoint of checkpoints) applyCheckpoint(state, checkpoint.step, checkpoint.state);
  return state;
}

function need<T>(value: T | undefined): T {
  if (value === undefined) throw new PermanentError('WORKFLOW_INVALID', 'a workflow step ran before the step it depends on');
  return value;
}
