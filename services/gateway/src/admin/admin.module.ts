import { Module } from '@nestjs/common';
import { DeadLettersController } from './dead-letters.controller.js';
import { DeadLettersService } from './dead-letters.service.js';
import { OperationsController } from './operations.controller.js';
import { QueuesService } from './queues.service.js';
import { WorkersService } from './workers.service.js';

@Module({ controllers: [DeadLettersController, OperationsController], providers: [DeadLettersService, QueuesService, WorkersService] })
export class AdminModule {}
