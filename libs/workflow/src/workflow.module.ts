import { Global, Module, type Provider } from '@nestjs/common';
import { DEADLINE_SWEEP_OPTIONS, DeadlineSweeper } from './engine/deadline-sweeper.js';
import type { WorkflowDefinition } from './engine/definition.js';
import { JoinListener } from './engine/join-listener.js';
import { loadWorkflowModules, WorkflowRegistry } from './engine/registry.js';
import { RunStore } from './engine/run-store.js';
import { WorkflowEngine } from './engine/workflow-engine.js';
import { TaskLifecycle, type Deadlines } from './lifecycle/task-lifecycle.js';
import { OutboxRelay } from './outbox/outbox-relay.js';

export interface WorkflowEngineOptions {
  /** Builds the definitions this process runs from its injected dependencies (an LLM provider, repositories). */
  definitions: { inject: unknown[]; useFactory: (...deps: any[]) => readonly WorkflowDefinition<any, any, any>[] };
  /** WORKFLOW_MODULES: modules whose definitions are added to these (plugins). */
  modules?: string;
  /** Per type, overriding the definitions' defaults (TASK_DEADLINES). */
  deadlines?: Record<string, Deadlines>;
  /** How often past deadlines are looked for (ms). */
  deadlineSweepMs?: number;
}

/**
 * The task lifecycle alone, for every module of a process that creates tasks or acts on them (the
 * gateway, the content worker), with the outbox relay that publishes what their transactions decide.
 */
@Global()
@Module({ providers: [TaskLifecycle, OutboxRelay], exports: [TaskLifecycle] })
export class TaskLifecycleModule {}

/**
 * The providers of a process that runs workflows (the workflow worker): the lifecycle, the engine,
 * the join listener, the deadline sweep, the outbox relay and the registry of the given definitions.
 */
export function workflowEngineProviders(options: WorkflowEngineOptions): Provider[] {
  return [
    TaskLifecycle,
    OutboxRelay,
    RunStore,
    WorkflowEngine,
    JoinListener,
    DeadlineSweeper,
    {
      provide: WorkflowRegistry,
      inject: options.definitions.inject as never[],
      useFactory: async (...deps: unknown[]) =>
        new WorkflowRegistry([...options.definitions.useFactory(...deps), ...(await loadWorkflowModules(options.modules))], options.deadlines),
    },
    { provide: DEADLINE_SWEEP_OPTIONS, useValue: { intervalMs: options.deadlineSweepMs ?? 5_000 } },
  ];
}
