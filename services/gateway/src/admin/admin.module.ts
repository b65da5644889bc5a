import { Module } from '@nestjs/common';
import { DeadLetterActions } from '@roadmap/workflow';
import { AdminControlController } from './admin-control.controller.js';
import { AuditService } from './audit.service.js';
import { BulkController } from './bulk.controller.js';
import { BulkService } from './bulk.service.js';
import { DeadLettersController } from './dead-letters.controller.js';
import { DeadLettersService } from './dead-letters.service.js';
import { InsightController } from './insight.controller.js';
import { LiveFeedService } from './live-feed.service.js';
import { OperationsController } from './operations.controller.js';
import { OwnerPoliciesController } from './owner-policies.controller.js';
import { QueueControlService } from './queue-control.service.js';
import { QueuesService } from './queues.service.js';
import { SchedulesController } from './schedules.controller.js';
import { SchedulesService } from './schedules.service.js';
import { SearchService } from './search.service.js';
import { WorkersService } from './workers.service.js';

@Module({
  controllers: [DeadLettersController, OperationsController, AdminControlController, BulkController, InsightController, OwnerPoliciesController, SchedulesController],
  providers: [DeadLetterActions, DeadLettersService, QueuesService, WorkersService, QueueControlService, AuditService, BulkService, SearchService, LiveFeedService, SchedulesService],
})
export class AdminModule {}
