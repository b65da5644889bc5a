import { Module, type DynamicModule } from '@nestjs/common';
import { TaskLifecycleModule } from '@roadmap/workflow';
import { RoadmapsController, TasksController, UsageController } from './tasks.controller.js';
import { TASKS_OPTIONS, type TasksOptions } from './tasks.options.js';
import { TasksRepository } from './tasks.repository.js';
import { TasksService } from './tasks.service.js';

@Module({})
export class TasksModule {
  static forRoot(options: TasksOptions): DynamicModule {
    return {
      module: TasksModule,
      imports: [TaskLifecycleModule],
      controllers: [RoadmapsController, TasksController, UsageController],
      providers: [TasksRepository, TasksService, { provide: TASKS_OPTIONS, useValue: options }],
    };
  }
}
