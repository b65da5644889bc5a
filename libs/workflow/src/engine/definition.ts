import type { Priority, ReviewMode, TaskStatus, TaskTypeContract } from '@roadmap/contracts';
import type { TaskEventInput } from '@roadmap/runtime';
import type { EntityManager } from 'typeorm';
import type { z } from 'zod';
import type { Deadlines } from '../lifecycle/task-lifecycle.js';

/** The task a run works for, as its definition sees it. */
export interface TaskRun<I = unknown> {
  id: string;
  type: string;
  owner: string;
  priority: Priority;
  status: TaskStatus;
  input: I;
  reviewMode: ReviewMode;
  roadmapId: string | null;
  parentId: string | null;
  version: string;
}

/** What a step's code gets: its task, the state its checkpoints add up to, and the run's signal. */
export interface StepContext<I, S> {
  task: TaskRun<I>;
  state: S;
  /** Aborted on cancel, at the soft time limit and at shutdown: pass it to every LLM call. */
  signal: AbortSignal;
  /** The step's position among the task's checkpoints (stable across replays: use it in message ids). */
  sequence: number;
  /** The run's lease; domain writes inside `effect` are already fenced by it. */
  lease: number;
}

/** A child task a step creates (a fan-out to child workflows). */
export interface NewChild {
  type: string;
  input: unknown;
  reviewMode?: ReviewMode;
}

/** What a step produced. */
export interface StepResult {
  /** What its checkpoint records; replaying the checkpoint hands it to `apply`. */
  data: Record<string, unknown>;
  /** The prompt version of the step's LLM call, recorded on the checkpoint. */
  promptVersion?: string | null;
  /**
   * Domain writes that commit with the checkpoint, under the run's lease, once (a repeated step finds
   * its checkpoint and skips it). Messages it decides (a fan-out to items) go to the outbox here
   * (`Outbox.add(em, ...)`): they are published after the commit, never before it, never without it.
   */
  effect?: (em: EntityManager) => Promise<void>;
  /** Child workflows to create (durably, once each) and start; the task then waits for them all. */
  children?: NewChild[];
  /** Events announced after the checkpoint (each with its dedupe key). */
  events?: Array<{ event: TaskEventInput; dedupe: string }>;
}

/** What the engine does next for a task, as its definition decides from the state. */
export type Next<R> =
  | { step: string }
  /** Wait for the named signal (the task is `awaiting_review`; no worker slot is held). */
  | { wait: string }
  /** A fan-out is under way: wait until every child has ended (the join), then `join`. */
  | { children: true }
  /** Nothing left: complete with this result (validated against the type's result schema). */
  | { complete: R }
  /** Nothing to do now (the work goes on elsewhere, e.g. items on a queue). */
  | null;

/** A wait for a signal with a typed payload. */
export interface SignalSpec<S, P> {
  schema: z.ZodType<P>;
  /** Whether a payload still applies to the state (a stale review is dropped). Default: yes. */
  accepts?: (payload: P, state: S) => boolean;
  /** Domain writes when the task starts waiting (in the same transaction). */
  onWait?: (em: EntityManager, task: TaskRun, state: S) => Promise<void>;
  /** Events when it starts waiting. */
  waitEvents?: (task: TaskRun, state: S) => Array<{ event: TaskEventInput; dedupe: string }>;
  /** The execution-log line for a received signal. */
  describe?: (payload: P) => { message: string; data?: Record<string, unknown> };
}

/**
 * A workflow definition: a task type (contract), how checkpoints add up to state, and what to do
 * next. The engine gives every definition checkpoints and replay, lease fencing, the failure policy,
 * signal waits, fan-out to children with join, cancel, deadlines, events and logs.
 */
export interface WorkflowDefinition<I = unknown, R = unknown, S = unknown> {
  contract: TaskTypeContract<I, R>;
  /** Default deadlines of a whole task (TASK_DEADLINES overrides them per type). */
  deadlines?: Deadlines;
  /** Recorded on the task at its first run (the prompt versions it runs with). */
  promptSet?: string;
  initialState(): S;
  /** Advances the state by one checkpoint (replay). Signals arrive here too, as `<name>` and `<name>_requested`. */
  apply(state: S, step: string, data: Record<string, unknown>): void;
  next(state: S, task: TaskRun<I>): Next<R>;
  steps: Record<string, (ctx: StepContext<I, S>) => Promise<StepResult>>;
  signals?: Record<string, SignalSpec<S, any>>;
  /** Aggregates the children once all ended (Celery's chord callback). */
  join?: (task: TaskRun<I>, children: ChildSummary[], em: EntityManager, state: S) => Promise<R>;
  /**
   * A resumed task whose fan-out went to items (not child workflows): put the unfinished items back
   * on their queue. Child workflows are resumed by the engine.
   */
  resumeItems?: (task: TaskRun<I>) => Promise<void>;
  /** Domain rows of a task that failed (a roadmap's status), in the same transaction. */
  onFail?: (em: EntityManager, taskId: string) => Promise<void>;
  /** Domain rows of new tasks of this type, created with them (a roadmap's row). */
  admit?: (em: EntityManager, tasks: Array<{ id: string; owner: string; input: I; roadmapId: string | null }>) => Promise<void>;
  /** Whether a new task of this type gets a roadmap id (its domain row's key). */
  hasRoadmap?: boolean;
}

/** A child as the join sees it. */
export interface ChildSummary {
  id: string;
  type: string;
  status: TaskStatus;
  input: unknown;
  roadmapId: string | null;
  result: unknown;
}

/** Declares a workflow (a typed identity function). */
export function defineWorkflow<I, R, S>(definition: WorkflowDefinition<I, R, S>): WorkflowDefinition<I, R, S> {
  for (const name of Object.keys(definition.signals ?? {})) {
    if (definition.steps[name]) throw new Error(`${definition.contract.type}: "${name}" is both a step and a signal`);
  }
  return definition;
}

/** What a module named in WORKFLOW_MODULES exports: one or more definitions. */
export interface WorkflowModule {
  workflows: readonly WorkflowDefinition<any, any, any>[];
}
