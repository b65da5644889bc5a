import { Module, type DynamicModule } from '@nestjs/common';
import { LLM_PROVIDER, type LlmProvider } from '@roadmap/llm';
import { WORKER_SERVES } from '@roadmap/runtime';
import { DeadLetterActions, FairDispatcher, TaskActions, TaskLifecycle, WorkflowEngine, workflowEngineProviders, WorkflowRegistry, type Deadlines, type FairDispatchOptions } from '@roadmap/workflow';
import { AdminBulkRepository } from '../workflows/admin-bulk/admin-bulk.repository.js';
import { RoadmapRepository } from '../workflows/roadmap/roadmap.repository.js';
import { builtInWorkflows } from '../workflows/workflows.js';
import { WorkflowHandler } from './workflow.handler.js';

export interface WorkflowOptions {
  /** Edit -> validate rounds before an invalid framework fails the task. */
  readonly maxEditRounds: number;
  /** WORKFLOW_MODULES */
  readonly modules: string;
  /** TASK_DEADLINES */
  readonly deadlines: Record<string, Deadlines>;
  /** DEADLINE_SWEEP_MS */
  readonly deadlineSweepMs: number;
  /** DISPATCH_* */
  readonly dispatch: FairDispatchOptions;
}

/** The workflow engine with every definition this worker runs, and its consumers. */
@Module({})
export class WorkflowModule {
  static forRoot(options: WorkflowOptions): DynamicModule {
    return {
      module: WorkflowModule,
      global: true,
      providers: [
        WorkflowHandler,
        RoadmapRepository,
        TaskActions,
        DeadLetterActions,
        AdminBulkRepository,
        // `inspect registered`: the task types (and their versions) this worker runs.
        { provide: WORKER_SERVES, inject: [WorkflowRegistry], useFactory: (registry: WorkflowRegistry) => () => registry.all().map((d) => ({ name: d.contract.type, version: d.contract.version })) },
        ...workflowEngineProviders({
          definitions: {
            inject: [LLM_PROVIDER, RoadmapRepository, TaskActions, DeadLetterActions, AdminBulkRepository],
            useFactory: (llm: LlmProvider, roadmaps: RoadmapRepository, tasks: TaskActions, deadLetters: DeadLetterActions, repository: AdminBulkRepository) =>
              builtInWorkflows({ llm, roadmaps, maxEditRounds: options.maxEditRounds, bulk: { tasks, deadLetters, repository } }),
          },
          modules: options.modules,
          deadlines: options.deadlines,
          deadlineSweepMs: options.deadlineSweepMs,
          dispatch: options.dispatch,
        }),
      ],
      // Maintenance (the reaper) and the dead-letter recorder end tasks through the lifecycle and the definitions.
      exports: [TaskLifecycle, WorkflowRegistry, WorkflowEngine, FairDispatcher],
    };
  }
}
