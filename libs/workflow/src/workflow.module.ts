import { Global, Module, type DynamicModule, type Provider } from '@nestjs/common';
import { DISPATCH_OPTIONS, FairDispatcher, type FairDispatchOptions } from './dispatch/fair-dispatcher.js';
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
  /** Fair dispatch (DISPATCH_*: `dispatchOptions(config, true)`: this process sweeps). */
  dispatch?: FairDispatchOptions;
}

/**
 * The task lifecycle alone, for every module of a process that creates tasks or acts on them (the
 * gateway, the content worker), with the outbox relay that publishes what their transactions decide
 * and the fair dispatcher that releases the work they hold.
 */
@Global()
@Module({ providers: [TaskLifecycle, OutboxRelay, FairDispatcher], exports: [TaskLifecycle, FairDispatcher] })
export class TaskLifecycleModule {
  /** With the process's fair dispatch settings (`dispatchOptions(config)`). */
  static forRoot(dispatch: FairDispatchOptions): DynamicModule {
    return {
      module: TaskLifecycleModule,
      providers: [{ provide: DISPATCH_OPTIONS, useValue: dispatch }],
    };
  }
}

/**
 * The providers of a process that runs workflows (the workflow worker): the lifecycle, the engine,
 * the join listener, the deadline sweep, the outbox relay and the registry of the given definitions.
 */
export function workflowEngineProviders(options: WorkflowEngineOptions): Provider[] {
  return [
    TaskLifecycle,
    OutboxRelay,
    FairDispatcher,
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
    ...(options.dispatch ? [{ provide: DISPATCH_OPTIONS, useValue: options.dispatch }] : []),
  ];
}
