import { Inject, Injectable } from '@nestjs/common';
import {
  failsForGood,
  isRetryable,
  storedError,
  type ContentGenerateMessage,
  PermanentError,
  RetryableError,
  Subjects,
  type Framework,
  type IntentAnalysis,
  type Preferences,
  type Priority,
  type ValidationIssue,
  type WorkflowGenerateMessage,
  type WorkflowStep,
} from '@roadmap/contracts';
import { checkFramework, LLM_PROVIDER, PROMPTS, type LlmProvider, type LlmResult } from '@roadmap/llm';
import { JetStreamPublisher } from '@roadmap/messaging';
import { ExecutionLogger, histogram } from '@roadmap/observability';
import { TaskEvents } from '@roadmap/runtime';
import type { WorkflowCheckpointEntity } from '@roadmap/persistence';
import { WORKFLOW_OPTIONS, type WorkflowOptions } from './workflow.options.js';
import { WorkflowRepository } from './workflow.repository.js';

const stepDuration = histogram('roadmap_workflow_step_duration_seconds', 'Duration of a workflow step', ['step', 'outcome']);

/** What the completed steps of a run add up to; rebuilt from checkpoints on every delivery. */
interface RunState {
  intent?: IntentAnalysis;
  framework?: Framework;
  issues?: ValidationIssue[];
  editRounds: number;
  fannedOut: boolean;
  sequence: number;
}

export interface RunOptions {
  signal: AbortSignal;
  /** The message will not be delivered again: a retryable failure now fails the task. */
  isLastDelivery: boolean;
}

/**
 * The framework workflow: intent analysis -> curriculum design -> validation -> (edit -> validation)*
 * -> fan-out of one content message per concept and kind. Every step's validated output is
 * checkpointed; a redelivered run replays the checkpoints and continues after the last one, so a
 * finished LLM call is never repeated.
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
  ) {}

  async run(message: WorkflowGenerateMessage, options: RunOptions): Promise<void> {
    const run = await this.repository.load(message.taskId, message.roadmapId);
    if (!run) {
      // The gateway publishes inside its transaction: the rows may not be visible for a moment yet.
      throw new RetryableError('NOT_FOUND', `task ${message.taskId} is not visible yet`, { retryAfterMs: 250 });
    }
    if (['completed', 'failed', 'cancelled'].includes(run.task.status)) {
      await this.executionLog.info(`workflow message skipped: task is ${run.task.status}`, { taskId: run.task.id });
      return;
    }
    const state = replay(run.checkpoints);
    if (state.fannedOut) return;
    const taskId = run.task.id;
    const ctx = { taskId, roadmapId: run.roadmap.id, priority: run.task.priority };

    try {
      let step = this.nextStep(state);
      await this.repository.markRunning(taskId, step ?? 'fan_out');
      if (state.sequence > 0) {
        await this.executionLog.info(`workflow resumed after ${state.sequence} completed step(s)`, { taskId, step });
      }
      while (step) {
        await this.runStep(step, state, run.roadmap.goal, run.roadmap.preferences, ctx, options.signal);
        step = this.nextStep(state);
      }
    } catch (error) {
      if (failsForGood(error, options.isLastDelivery)) {
        const reason = storedError(error);
        if (await this.repository.fail(taskId, ctx.roadmapId, reason)) {
          await this.events.publish({ type: 'task.failed', taskId, error: `${reason.code}: ${reason.message}` }, 'final');
          await this.executionLog.error(`workflow failed: ${reason.message}`, { taskId, data: { code: reason.code } });
        }
      }
      throw error;
    }
  }

  private nextStep(state: RunState): WorkflowStep | null {
    if (!state.intent) return 'intent_analysis';
    if (!state.framework) return 'curriculum_design';
    if (!state.issues) return 'validation';
    const hasErrors = state.issues.some((i) => i.severity === 'error');
    if (hasErrors && state.editRounds < this.options.maxEditRounds) return 'edit';
    if (!state.fannedOut) return 'fan_out';
    return null;
  }

  private async runStep(
    step: WorkflowStep,
    state: RunState,
    goal: string,
    preferences: Preferences,
    ctx: { taskId: string; roadmapId: string; priority: Priority },
    signal: AbortSignal,
  ): Promise<void> {
    const started = performance.now();
    const { taskId } = ctx;
    await this.repository.setStep(taskId, step);
    await this.events.publish({ type: 'step.started', taskId, step }, `${step}:${state.sequence}`);
    await this.executionLog.info(`step ${step} started`, { taskId, step });
    let outcome = 'error';
    try {
      switch (step) {
        case 'intent_analysis': {
          const result = await this.llm.generate(PROMPTS.intent_analysis, { goal, preferences }, { signal });
          state.intent = result.output;
          await this.checkpoint(ctx, state, step, result, { intent: result.output });
          break;
        }
        case 'curriculum_design': {
          const result = await this.llm.generate(PROMPTS.curriculum_design, { intent: need(state.intent) }, { signal });
          state.framework = result.output;
          await this.checkpoint(ctx, state, step, result, { framework: result.output });
          break;
        }
        case 'validation': {
          const result = await this.llm.generate(
            PROMPTS.validation,
            { intent: need(state.intent), framework: need(state.framework) },
            { signal },
          );
          const structural = checkFramework(need(state.framework), state.intent);
          const issues = [...structural, ...result.output.issues];
          if (structural.some((i) => i.severity === 'error') && state.editRounds >= this.options.maxEditRounds) {
            throw new PermanentError(
              'WORKFLOW_INVALID',
              `the framework is still invalid after ${state.editRounds} edit round(s): ${structural
                .filter((i) => i.severity === 'error')
                .map((i) => i.message)
                .join('; ')}`,
            );
          }
          state.issues = issues;
          await this.checkpoint(ctx, state, step, { ...result, output: { valid: !issues.some((i) => i.severity === 'error'), issues } }, {
            validationIssues: issues,
          });
          break;
        }
        case 'edit': {
          const result = await this.llm.generate(
            PROMPTS.edit,
            { intent: need(state.intent), framework: need(state.framework), issues: state.issues ?? [], feedback: null },
            { signal },
          );
          state.framework = result.output;
          state.issues = undefined;
          state.editRounds += 1;
          await this.checkpoint(ctx, state, step, result, { framework: result.output });
          break;
        }
        case 'fan_out': {
          const framework = need(state.framework);
          const items = await this.repository.fanOut(taskId, ctx.roadmapId, framework);
          await this.publisher.publishMany(
            items.map((item) => ({
              subject: Subjects.contentGenerate(ctx.priority, item.kind),
              payload: { taskId, roadmapId: ctx.roadmapId, conceptId: item.conceptId, kind: item.kind, priority: ctx.priority } satisfies ContentGenerateMessage,
              msgId: `content-generate:${ctx.roadmapId}:${item.conceptId}:${item.kind}`,
            })),
          );
          state.fannedOut = true;
          await this.repository.saveCheckpoint(
            { taskId, sequence: state.sequence, step, state: { items: items.length }, promptVersion: null },
            { id: ctx.roadmapId },
          );
          state.sequence += 1;
          await this.events.publish({ type: 'content.started', taskId, progress: { done: 0, failed: 0, total: items.length } }, 'fan_out');
          break;
        }
      }
      outcome = 'ok';
      await this.events.publish({ type: 'step.completed', taskId, step }, `${step}:${state.sequence - 1}`);
      await this.executionLog.info(`step ${step} completed`, {
        taskId,
        step,
        data: { durationMs: Math.round(performance.now() - started) },
      });
    } catch (error) {
      await this.executionLog.warn(`step ${step} failed: ${error instanceof Error ? error.message : String(error)}`, {
        taskId,
        step,
        data: { code: storedError(error).code, retryable: isRetryable(error) },
      });
      throw error;
    } finally {
      stepDuration.observe({ step, outcome }, (performance.now() - started) / 1000);
    }
  }

  private async checkpoint<O>(
    ctx: { taskId: string; roadmapId: string },
    state: RunState,
    step: WorkflowStep,
    result: LlmResult<O>,
    roadmapUpdate: { intent?: unknown; framework?: Framework; validationIssues?: unknown },
  ): Promise<void> {
    await this.repository.saveCheckpoint(
      {
        taskId: ctx.taskId,
        sequence: state.sequence,
        step,
        state: {
          output: result.output,
          usage: result.usage,
          provider: result.provider,
          model: result.model,
          latencyMs: Math.round(result.latencyMs),
        },
        promptVersion: result.promptVersion,
      },
      { id: ctx.roadmapId, ...roadmapUpdate },
    );
    state.sequence += 1;
  }
}

/** Rebuilds a run's state from its checkpoints, in order. */
export function replay(checkpoints: readonly Pick<WorkflowCheckpointEntity, 'step' | 'state'>[]): RunState {
  const state: RunState = { editRounds: 0, fannedOut: false, sequence: 0 };
  for (const checkpoint of checkpoints) {
    const output = (checkpoint.state as { output?: unknown }).output;
    switch (checkpoint.step as WorkflowStep) {
      case 'intent_analysis':
        state.intent = output as IntentAnalysis;
        break;
      case 'curriculum_design':
        state.framework = output as Framework;
        break;
      case 'validation':
        state.issues = (output as { issues: ValidationIssue[] }).issues;
        break;
      case 'edit':
        state.framework = output as Framework;
        state.issues = undefined;
        state.editRounds += 1;
        break;
      case 'fan_out':
        state.fannedOut = true;
        break;
    }
    state.sequence += 1;
  }
  return state;
}

function need<T>(value: T | undefined): T {
  if (value === undefined) throw new PermanentError('WORKFLOW_INVALID', 'a workflow step ran before the step it depends on');
  return value;
}

