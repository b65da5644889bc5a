import { Module } from '@nestjs/common';
import { RoadmapsController, TasksController } from './tasks.controller.js';
import { TasksRepository } from './tasks.repository.js';
import { TasksService } from './tasks.service.js';

@Module({
  controllers: [RoadmapsController, TasksController],
  providers: [TasksRepository, TasksService],
})
export class TasksModule {}
