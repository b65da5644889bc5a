import { Controller, Get, Inject } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { QueuesService } from './queues.service.js';
import { WorkersService } from './workers.service.js';

/** /api/v1/admin/queues and /workers: what `celery inspect` and Flower showed. Admin role only. */
@ApiTags('admin')
@ApiBearerAuth()
@Controller('api/v1/admin')
export class OperationsController {
  constructor(
    @Inject(QueuesService) private readonly queues: QueuesService,
    @Inject(WorkersService) private readonly workers: WorkersService,
  ) {}

  @Get('queues')
  @ApiOperation({
    summary: 'Per stream: messages and bytes; per consumer: pending, ack pending, redelivered, waiting pulls, last activity, acks per second',
  })
  listQueues() {
    return this.queues.list();
  }

  @Get('workers')
  @ApiOperation({ summary: 'Every service process (worker registry): its consumers, in flight, handled counts, host, pid, version, last heartbeat' })
  listWorkers() {
    return this.workers.list();
  }
}
