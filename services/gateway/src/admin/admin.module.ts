import { Module } from '@nestjs/common';
import { AdminControlController } from './admin-control.controller.js';
import { AuditService } from './audit.service.js';
import { BulkController } from './bulk.controller.js';
import { BulkService } from './bulk.service.js';
import { DeadLettersController } from './dead-letters.controller.js';
import { DeadLettersService } from './dead-letters.service.js';
import { OperationsController } from './operations.controller.js';
import { QueueControlService } from './queue-control.service.js';
import { QueuesService } from './queues.service.js';
import { WorkersService } from './workers.service.js';

@Module({
  controllers: [DeadLettersController, OperationsController, AdminControlController, BulkController],
  providers: [DeadLettersService, QueuesService, WorkersService, QueueControlService, AuditService, BulkService],
})
export class AdminModule {}
