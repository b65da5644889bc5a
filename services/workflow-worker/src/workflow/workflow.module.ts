import { Module, type DynamicModule } from '@nestjs/common';
import { WorkflowHandler } from './workflow.handler.js';
import { WORKFLOW_OPTIONS, type WorkflowOptions } from './workflow.options.js';
import { WorkflowRepository } from './workflow.repository.js';
import { WorkflowService } from './workflow.service.js';

@Module({})
export class WorkflowModule {
  static forRoot(options: WorkflowOptions): DynamicModule {
    return {
      module: WorkflowModule,
      providers: [WorkflowHandler, WorkflowService, WorkflowRepository, { provide: WORKFLOW_OPTIONS, useValue: options }],
    };
  }
}
