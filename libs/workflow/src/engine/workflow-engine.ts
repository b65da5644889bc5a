import { Inject, Injectable, Optional } from '@nestjs/common';
import {
  failsForGood,
  isRetryable,
  PermanentError,
  storedError,
  Subjects,
  SupersededError,
  type TaskStatus,
  type WorkflowMessage,
} from '@roadmap/contracts';
import type { StoredError } from '@roadmap/persistence';
import type { EntityManager } from 'typeorm';
import { TimeLimitExceeded } from '@roadmap/messaging';
import { ExecutionLogger, histogram, withSpan } from '@roadmap/observability';
import { Cancellation, LlmCallRecorder, type TaskEventInput } from '@roadmap/runtime';
import { TaskLifecycle } from '../lifecycle/task-lifecycle.js';
import { Dispatch } from '../dispatch/dispatch.js';
import { FairDispatcher } from '../dispatch/fair-dispatcher.js';
import { Outbox, type OutboxMessage } from '../outbox/outbox.js';
import { cancelNotice, taskEvent } from '../outbox/task-messages.js';
import type { StepContext, TaskRun, WorkflowDefinition } from './definition.js';
import { WorkflowRegistry } from './registry.js';
import { RunStore, type LoadedRun } from './run-store.js';

const stepDuration = histogram('roadmap_workflow_step_duration_seconds', 'Duration of a workflow step', ['step', 'outcome']);

export interface RunOptions {
  /** Aborted at shutdown (and at the soft time limit). */
  signal: AbortSignal;
  /** The message will not be delivered again: a retryable failure now fails the task. */
  isLastDelivery: boolean;
}

/** The engine's own view of a run, beside the definition's state. */
interface RunState<S> {
  data: S;
  sequence: number;
  /** The signal the task waits for, if any. */
  waiting?: string;
}

/** How a task is failed (see {@link WorkflowEngine.failIn}). */
export interface FailOptions {
  /** Only while this run holds the task. */
  lease?: number;
  /** Names this failure in its event's id (with the run that failed: a task resumed and failed again says so again). */
  event?: string;
  /** Work in flight elsewhere is aborted: the cancel notice every worker listens to. */
  abort?: boolean;
}

/** Raised inside a run when the task stopped running under it (cancelled): stop writing, ack. */
class TaskStopped extends Error {}

type AnyDefinition = WorkflowDefinition<any, any, any>;

/**
 * Runs workflow definitions. A delivery of a workflow command loads the task and its checkpoints,
 * replays them into the definition's state, and runs what the definition says comes next, one step
 * at a time, checkpointing each step's output (with its domain effect) under the run's lease. A
 * redelivered or resumed run continues after the last checkpoint, so a finished LLM call is never
 * repeated. Signals (a person's review) are waits that hold no worker slot; a fan-out to child
 * workflows is joined when the last child ends (the lifecycle's join trigger wakes the parent).
 */
@Injectable()
export class WorkflowEngine {
  constructor(
    @Inject(WorkflowRegistry) private readonly registry: WorkflowRegistry,
    @Inject(RunStore) private readonly store: RunStore,
    @Inject(TaskLifecycle) private readonly lifecycle: TaskLifecycle,
    @Inject(ExecutionLogger) private readonly executionLog: ExecutionLogger,
    @Inject(Cancellation) private readonly cancellation: Pick<Cancellation, 'run'>,
    @Optional() @Inject(LlmCallRecorder) private readonly llmCalls?: Pick<LlmCallRecorder, 'flush'>,
    @Optional() @Inject(FairDispatcher) private readonly dispatcher?: Pick<FairDispatcher, 'request'>,
  ) {}

  async run(message: WorkflowMessage, options: RunOptions): Promise<void> {
    // Commands go out through the outbox once the transaction that decided them committed: a task
    // that is not there was never written, and a resume that finds its task failed or cancelled is
    // stale (the task ended again after it).
    const loaded = await this.store.load(message.taskId);
    if (!loaded) throw new PermanentError('INVALID_MESSAGE', `the ${message.command} of task ${message.taskId} names no task`);
    const { task: row } = loaded;
    if (['completed', 'failed', 'cancelled'].includes(row.status)) return;
    const signalled = message.command === 'review' || message.command === 'signal';
    if (row.status === 'awaiting_review' && !signalled) return;
    const definition = this.registry.get(row.type);
    const task: TaskRun = {
      id: row.id,
      type: row.type,
      owner: row.owner,
      priority: row.priority,
      status: row.status,
      input: row.input,
      reviewMode: row.reviewMode,
      roadmapId: row.roadmapId,
      parentId: row.parentId,
      version: row.workflowVersion,
    };
    const state = this.replay(definition, loaded);
    try {
      await this.runTask(definition, task, state, message, options);
    } finally {
      // Whatever this run did may have made room in its owner's windows (its design ended) or held
      // work (a fan-out's items, children): release what now fits.
      this.dispatcher?.request(task.priority);
    }
  }

  private async runTask(definition: AnyDefinition, task: TaskRun, state: RunState<any>, message: WorkflowMessage, options: RunOptions): Promise<void> {
    const signalled = message.command === 'review' || message.command === 'signal';
    let lease: number | undefined;
    await this.cancellation.run(task.id, options.signal, async (signal) => {
      try {
        if (task.version !== definition.contract.version) {
          throw new PermanentError(
            'WORKFLOW_VERSION_MISMATCH',
            `the task was started by ${task.version}; this worker runs ${definition.contract.version} and does not mix them`,
          );
        }
        if (signalled) {
          const accepted = await this.receiveSignal(definition, task, state, message);
          if (accepted === 'ignored') return;
        } else if (state.waiting) {
          // Resumed while waiting for a signal: it waits again.
          const spec = definition.signals?.[state.waiting];
          await this.lifecycle.transaction(async (em) => {
            if (await this.lifecycle.awaitAgain(em, task.id, state.waiting!)) await spec?.onWait?.(em, task, state.data);
          });
          return;
        }
        let next = definition.next(state.data, task);
        if (next === null) {
          // Nothing to run here (the work is on another queue): a resume puts unfinished items back.
          if (message.command === 'resume') await definition.resumeItems?.(task);
          return;
        }
        const firstStep = 'step' in next ? next.step : 'wait' in next ? next.wait : 'children' in next ? 'children' : 'complete';
        lease = (await this.lifecycle.start(this.lifecycle.pool, task.id, firstStep, definition.promptSet ?? null, this.registry.deadlinesOf(task.type))) ?? undefined;
        if (lease === undefined) return;
        if (state.sequence > 0 && 'step' in next) await this.executionLog.info(`workflow continues after ${state.sequence} checkpoint(s)`, { taskId: task.id, step: firstStep });
        while (next && 'step' in next) {
          const step = next.step;
          await withSpan(`workflow step ${step}`, { attributes: { 'roadmap.task.id': task.id, 'roadmap.workflow.step': step } }, () =>
            this.runStep(definition, task, state, step, lease!, signal),
          );
          next = definition.next(state.data, task);
        }
        if (next && 'wait' in next) await this.startWaiting(definition, task, state, next.wait, lease);
        else if (next && 'children' in next) await this.continueChildren(definition, task, state.data, message, lease);
        else if (next && 'complete' in next) await this.complete(definition, task, next.complete, lease);
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
          if (await this.failTask(task, reason, { lease, event: `failed:${state.sequence}` })) {
            await this.executionLog.error(`workflow failed: ${reason.message}`, { taskId: task.id, data: { code: reason.code } });
          }
        }
        throw error;
      }
    });
  }

  private replay<S>(definition: WorkflowDefinition<unknown, unknown, S>, loaded: LoadedRun): RunState<S> {
    const state: RunState<S> = { data: definition.initialState(), sequence: 0 };
    for (const checkpoint of loaded.checkpoints) this.apply(definition, state, checkpoint.step, checkpoint.state);
    return state;
  }

  private apply<S>(definition: WorkflowDefinition<unknown, unknown, S>, state: RunState<S>, step: string, data: Record<string, unknown>): void {
    const signals = definition.signals ?? {};
    if (step.endsWith('_requested') && signals[step.slice(0, -'_requested'.length)]) state.waiting = step.slice(0, -'_requested'.length);
    else if (signals[step]) state.waiting = undefined;
    definition.apply(state.data, step, data);
    state.sequence += 1;
  }

  /** Checks and records a signal; 'ignored' for a stale or repeated one. */
  private async receiveSignal(definition: AnyDefinition, task: TaskRun, state: RunState<unknown>, message: WorkflowMessage): Promise<'accepted' | 'ignored'> {
    const name = message.command === 'review' ? 'review' : message.signal?.name;
    const spec = name ? definition.signals?.[name] : undefined;
    if (!name || !spec || state.waiting !== name) return 'ignored';
    const parsed = spec.schema.safeParse(message.command === 'review' ? message.review : message.signal?.payload);
    if (!parsed.success) throw new PermanentError('INVALID_MESSAGE', `the ${name} signal's payload does not fit its schema: ${parsed.error.message}`);
    if (spec.accepts && !spec.accepts(parsed.data as never, state.data)) return 'ignored';
    // The signal commits with the task's move to running: one that finds it waiting is for an earlier wait.
    if (task.status === 'awaiting_review') return 'ignored';
    const saved = await this.store.checkpoint({ taskId: task.id, sequence: state.sequence, step: name, state: { ...(parsed.data as object) } }, undefined);
    if (!saved) throw new TaskStopped();
    this.apply(definition, state, name, parsed.data as Record<string, unknown>);
    const said = spec.describe?.(parsed.data as never) ?? { message: `signal ${name} received` };
    await this.executionLog.info(said.message, { taskId: task.id, step: name, data: said.data });
    return 'accepted';
  }

  private async runStep(definition: AnyDefinition, task: TaskRun, state: RunState<unknown>, step: string, lease: number, signal: AbortSignal): Promise<void> {
    const started = performance.now();
    const dedupe = `${step}:${state.sequence}`;
    const code = definition.steps[step];
    if (!code) throw new PermanentError('WORKFLOW_INVALID', `${definition.contract.type} has no step "${step}"`);
    await this.showStep(task.id, step, lease, dedupe);
    await this.executionLog.info(`step ${step} started`, { taskId: task.id, step });
    let outcome = 'error';
    try {
      const ctx: StepContext<unknown, unknown> = { task, state: state.data, signal, sequence: state.sequence, lease };
      const result = await code(ctx);
      // Read when written: a fan-out's checkpoint says what its effect created.
      const entry = () => ({ taskId: task.id, sequence: state.sequence, step, state: result.data, promptVersion: result.promptVersion });
      // The step's events and its log entry commit with its checkpoint (read after the effect: a fan-out's counts).
      const events = (em: EntityManager) =>
        Outbox.add(em, [
          ...[...(result.events ?? []), { event: { type: 'step.completed' as const, taskId: task.id, step }, dedupe }].map((e) => taskEvent(e.event, e.dedupe)),
          ...this.logMessage(task.id, step, dedupe, `step ${step} completed`, { durationMs: Math.round(performance.now() - started) }),
        ]);
      if (result.children) {
        // The children and their generate commands (outbox) commit together, then the checkpoint: a
        // crash in between creates only missing children again, and their commands keep their ids.
        const created = await this.store.createChildren(task, lease, step, result.children, (type) => this.registry.get(type), (em, children) =>
          Dispatch.hold(em, 'workflow', this.childCommands(task, children, 'generate')),
        );
        if (!created) throw new TaskStopped();
        if (!(await this.store.checkpoint(entry(), lease, events))) throw new TaskStopped();
      } else if (!(await this.store.checkpoint(entry, lease, async (em) => (await result.effect?.(em), events(em))))) {
        throw new TaskStopped();
      }
      this.apply(definition, state, step, result.data);
      outcome = 'ok';
    } catch (error) {
      if (!(error instanceof TaskStopped) && !(error instanceof SupersededError) && !signal.aborted) {
        await this.executionLog.warn(`step ${step} failed: ${error instanceof Error ? error.message : String(error)}`, {
          taskId: task.id,
          step,
          data: { code: storedError(error).code, retryable: isRetryable(error) },
        });
      }
      throw error;
    } finally {
      stepDuration.observe({ step, outcome }, (performance.now() - started) / 1000);
    }
  }

  /** The task waits for `name`: checkpoint, task `awaiting_review`, the definition's own rows, then its events. */
  private async startWaiting(definition: AnyDefinition, task: TaskRun, state: RunState<unknown>, name: string, lease: number): Promise<void> {
    const spec = definition.signals?.[name];
    if (!spec) throw new PermanentError('WORKFLOW_INVALID', `${definition.contract.type} waits for an undeclared signal "${name}"`);
    // A wait shows as a step of its own (current step, started/completed events and log lines).
    const dedupe = `${name}:${state.sequence}`;
    await this.showStep(task.id, name, lease, dedupe);
    await this.executionLog.info(`step ${name} started`, { taskId: task.id, step: name });
    const saved = await this.store.checkpoint({ taskId: task.id, sequence: state.sequence, step: `${name}_requested`, state: {} }, lease, async (em) => {
      await this.lifecycle.awaitSignal(em, task.id, name);
      await spec.onWait?.(em, task, state.data);
      const events = [...(spec.waitEvents?.(task, state.data) ?? []), { event: { type: 'step.completed' as const, taskId: task.id, step: name }, dedupe }];
      await Outbox.add(em, [...events.map((e) => taskEvent(e.event, e.dedupe)), ...this.logMessage(task.id, name, dedupe, `step ${name} completed`)]);
    });
    if (!saved) throw new TaskStopped();
    this.apply(definition, state, `${name}_requested`, {});
  }

  /**
   * A fanned-out task: on resume its children that did not complete go round again; once every
   * child has ended (the join command, or any delivery that finds them all ended) it completes with
   * the definition's aggregate.
   */
  private async continueChildren(definition: AnyDefinition, task: TaskRun, state: unknown, message: WorkflowMessage, lease: number): Promise<void> {
    if (message.command === 'resume') {
      const requeued = await this.lifecycle.transaction(async (em) => {
        const children = await this.lifecycle.requeueChildren(em, task.id);
        const resumed = children.length > 0 ? [taskEvent({ type: 'task.resumed', taskId: task.id }, `resume:${lease}`)] : [];
        await Outbox.add(em, [...this.childCommands(task, children, 'resume'), ...resumed]);
        return children;
      });
      if (requeued.length > 0) {
        await this.executionLog.info(`resumed ${requeued.length} child task(s); completed ones kept`, { taskId: task.id });
        return;
      }
    }
    if (!(await this.store.childrenEnded(task.id))) {
      await this.lifecycle.setStep(this.lifecycle.pool, task.id, 'children', lease);
      return;
    }
    if (!definition.join) throw new PermanentError('WORKFLOW_INVALID', `${definition.contract.type} fans out to children but has no join`);
    const result = await this.lifecycle.transaction(async (em) => definition.join!(task, await this.store.children(task.id, em), em, state));
    await this.complete(definition, task, result, lease);
  }

  private async complete(definition: AnyDefinition, task: TaskRun, result: unknown, lease: number): Promise<void> {
    const checked = definition.contract.result.safeParse(result);
    if (!checked.success) throw new PermanentError('WORKFLOW_INVALID', `${definition.contract.type}'s result does not fit its schema: ${checked.error.message}`);
    await this.llmCalls?.flush();
    const completed = await this.lifecycle.transaction(async (em) => {
      if (!(await this.lifecycle.complete(em, task.id, checked.data, lease))) return false;
      await Outbox.add(em, [
        taskEvent({ type: 'task.completed', taskId: task.id, progress: await this.store.progress(task.id, em) }, `completed:${lease}`),
        ...this.logMessage(task.id, null, `completed:${lease}`, 'workflow completed'),
      ]);
      return true;
    });
    if (!completed) return;
  }

  /**
   * Ends a task as failed (with a lease: only while that run holds it), with its definition's own
   * rows (a roadmap's status) in the same transaction. False when it had already ended. The run's
   * failure policy and the deadline sweep end tasks through here; the reaper and the dead-letter
   * recorder through {@link failIn}, inside their own transactions.
   */
  async failTask(task: Pick<TaskRun, 'id'>, reason: StoredError, options: FailOptions = {}): Promise<boolean> {
    return this.lifecycle.transaction((em) => this.failIn(em, task.id, reason, options));
  }

  /**
   * {@link failTask} inside the caller's transaction; `from` narrows the states it may fail from.
   * The `task.failed` event (and with `abort` the cancel notice) goes to the outbox with the failure.
   */
  async failIn(em: EntityManager, taskId: string, reason: StoredError, options: FailOptions & { from?: readonly TaskStatus[] } = {}): Promise<boolean> {
    const failed = await this.lifecycle.fail(em, taskId, reason, options.lease, options.from);
    if (failed === null) return false;
    if (this.registry.has(failed.type)) await this.registry.get(failed.type).onFail?.(em, taskId);
    const event: TaskEventInput = { type: 'task.failed', taskId, error: `${reason.code}: ${reason.message}` };
    const key = `${options.event ?? 'failed'}:run-${failed.attempts}`;
    await Outbox.add(em, [taskEvent(event, key), ...(options.abort ? [cancelNotice(taskId, key)] : [])]);
    return true;
  }

  /** An execution-log entry for the outbox of the transaction whose effect it tells of, its id named by `key`. */
  private logMessage(taskId: string, step: string | null, key: string, message: string, data?: Record<string, unknown>): OutboxMessage[] {
    const entry = this.executionLog.message([{ level: 'info', message, context: { taskId, step, data, key: `workflow:${taskId}:${key}` } }]);
    return entry ? [entry] : [];
  }

  /** The step a running task shows, with its `step.started` event in the same transaction. */
  private async showStep(taskId: string, step: string, lease: number, dedupe: string): Promise<void> {
    await this.lifecycle.transaction(async (em) => {
      await this.lifecycle.setStep(em, taskId, step, lease);
      await Outbox.add(em, [taskEvent({ type: 'step.started', taskId, step }, dedupe)]);
    });
  }

  /** The commands that start (or resume) children, for the outbox of the transaction that made them runnable. */
  private childCommands(parent: TaskRun, children: ReadonlyArray<{ id: string; type: string; roadmapId: string | null }>, command: 'generate' | 'resume') {
    const resumed = Date.now();
    return children.map((child) => ({
      subject: Subjects.workflow(parent.priority, command),
      payload: { taskId: child.id, type: child.type, command, ...(child.roadmapId && { roadmapId: child.roadmapId }) } satisfies WorkflowMessage,
      key: command === 'generate' ? `workflow-generate:${child.id}` : `workflow-resume:${child.id}:${parent.id}:${resumed}`,
      taskId: child.id,
      owner: parent.owner,
      priority: parent.priority,
    }));
  }
}
