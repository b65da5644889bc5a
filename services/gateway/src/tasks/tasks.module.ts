import { Module, type DynamicModule } from '@nestjs/common';
import { BUILT_IN_TASK_TYPES } from '@roadmap/contracts';
import { contractsOf, DeadLetterActions, loadWorkflowModules, TaskActions, TaskLifecycleModule } from '@roadmap/workflow';
import { TaskApiController } from './task-api.controller.js';
import { TaskApiService } from './task-api.service.js';
import { TASK_TYPE_CONTRACTS, TaskTypes } from './task-types.js';
import { RoadmapsController, TasksController, UsageController } from './tasks.controller.js';
import { TASKS_OPTIONS, type TasksOptions } from './tasks.options.js';
import { TasksRepository } from './tasks.repository.js';
import { TasksService } from './tasks.service.js';
import { UsageRepository } from './usage.repository.js';

@Module({})
export class TasksModule {
  static forRoot(options: TasksOptions): DynamicModule {
    return {
      module: TasksModule,
      imports: [TaskLifecycleModule.forRoot(options.dispatch)],
      controllers: [RoadmapsController, TasksController, TaskApiController, UsageController],
      providers: [
        // A person's actions on tasks and dead letters: the same code as the workflow worker's bulk task.
        TaskActions,
        DeadLetterActions,
        TasksRepository,
        UsageRepository,
        TasksService,
        TaskApiService,
        TaskTypes,
        { provide: TASKS_OPTIONS, useValue: options },
        // The built-in types plus those of WORKFLOW_MODULES (the same modules the workflow worker runs).
        { provide: TASK_TYPE_CONTRACTS, useFactory: async () => (options.workflowModules ? contractsOf(await loadWorkflowModules(options.workflowModules)) : BUILT_IN_TASK_TYPES) },
      ],
      exports: [TaskActions, DeadLetterActions],
    };
  }
}
