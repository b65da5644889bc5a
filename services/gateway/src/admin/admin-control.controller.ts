import { Body, Controller, Get, HttpCode, Inject, Param, Post, Put, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiParam, ApiQuery, ApiTags } from '@nestjs/swagger';
import { PRIORITIES } from '@roadmap/contracts';
import { z } from 'zod';
import { CurrentPrincipal, type Principal } from '../auth/principal.js';
import { UuidPipe, ZodPipe } from '../common/zod.pipe.js';
import { AuditService } from './audit.service.js';
import { QueueControlService } from './queue-control.service.js';
import { WorkersService } from './workers.service.js';

export const PauseBodySchema = z.strictObject({ priority: z.enum(PRIORITIES).optional() });
export const PurgeBodySchema = z.strictObject({
  priority: z.enum(PRIORITIES).optional(),
  dryRun: z.boolean().default(false),
  confirm: z.boolean().default(false),
});
export const ConcurrencyBodySchema = z.strictObject({
  /** null: back to the worker's configured value. */
  concurrency: z.number().int().min(1).max(1024).nullable(),
  workerId: z.uuid().optional(),
});
export const AuditQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  cursor: z.string().max(200).optional(),
  actor: z.string().max(200).optional(),
  action: z.string().max(100).optional(),
});

/** A body that may be absent (`{}`), validated like every other. */
function optionalBody<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  return new ZodPipe(schema).transform(body ?? {});
}

/**
 * Control of queues and workers (issue 20), like Bull Board's pause and Celery's `control`: pause,
 * resume and purge a queue, drain a worker, change a consumer's concurrency, `inspect`-style views,
 * and the audit trail every one of these actions writes. Admin role only (the guard answers 403).
 */
@ApiTags('admin')
@ApiBearerAuth()
@Controller('api/v1/admin')
export class AdminControlController {
  constructor(
    @Inject(QueueControlService) private readonly queues: QueueControlService,
    @Inject(WorkersService) private readonly workers: WorkersService,
    @Inject(AuditService) private readonly audit: AuditService,
  ) {}

  @Post('queues/:stream/pause')
  @HttpCode(200)
  @ApiOperation({ summary: "Pause a queue's consumers (one priority, or all): workers stop pulling and finish what they hold; durable until resumed" })
  @ApiParam({ name: 'stream', example: 'CONTENT_GENERATION' })
  @ApiBody({ required: false, schema: { type: 'object', properties: { priority: { type: 'string', enum: [...PRIORITIES] } } } })
  pause(@Param('stream') stream: string, @Body() body: unknown, @CurrentPrincipal() principal: Principal) {
    const { priority } = optionalBody(PauseBodySchema, body);
    return this.audit.run(principal, 'queue.pause', stream, { priority }, () => this.queues.pause(stream, priority, principal.owner));
  }

  @Post('queues/:stream/resume')
  @HttpCode(200)
  @ApiOperation({ summary: "Resume a paused queue's consumers (one priority, or all)" })
  @ApiParam({ name: 'stream', example: 'CONTENT_GENERATION' })
  @ApiBody({ required: false, schema: { type: 'object', properties: { priority: { type: 'string', enum: [...PRIORITIES] } } } })
  resume(@Param('stream') stream: string, @Body() body: unknown, @CurrentPrincipal() principal: Principal) {
    const { priority } = optionalBody(PauseBodySchema, body);
    return this.audit.run(principal, 'queue.resume', stream, { priority }, () => this.queues.resume(stream, priority));
  }

  @Post('queues/:stream/purge')
  @HttpCode(200)
  @ApiOperation({ summary: "Drop a queue's messages: dryRun counts them and their tasks; the real run needs confirm: true and cancels those tasks (code PURGED)" })
  @ApiParam({ name: 'stream', example: 'CONTENT_GENERATION' })
  @ApiBody({
    schema: {
      type: 'object',
      properties: { priority: { type: 'string', enum: [...PRIORITIES] }, dryRun: { type: 'boolean' }, confirm: { type: 'boolean' } },
    },
  })
  purge(@Param('stream') stream: string, @Body() body: unknown, @CurrentPrincipal() principal: Principal) {
    const { priority, dryRun, confirm } = optionalBody(PurgeBodySchema, body);
    const act = () => this.queues.purge(stream, priority, dryRun, confirm);
    // A dry run changes nothing: it is not an action to audit.
    return dryRun ? act() : this.audit.run(principal, 'queue.purge', stream, { priority, confirm }, act);
  }

  @Post('workers/:id/drain')
  @HttpCode(202)
  @ApiOperation({ summary: 'Drain a worker process: it stops pulling, finishes its in-flight work and exits 0 (Kubernetes replaces it)' })
  @ApiParam({ name: 'id', format: 'uuid', description: 'A worker id from GET /api/v1/admin/workers' })
  drain(@Param('id', new UuidPipe()) id: string, @CurrentPrincipal() principal: Principal) {
    return this.audit.run(principal, 'worker.drain', id, {}, () => this.workers.drain(id, principal.owner));
  }

  @Put('consumers/:consumer/concurrency')
  @HttpCode(200)
  @ApiOperation({ summary: "Change a consumer's handler slots at runtime on every worker or one (workerId); null goes back to the configured value" })
  @ApiParam({ name: 'consumer', example: 'content-worker-normal' })
  @ApiBody({
    schema: {
      type: 'object',
      required: ['concurrency'],
      properties: { concurrency: { type: 'integer', minimum: 1, maximum: 1024, nullable: true }, workerId: { type: 'string', format: 'uuid' } },
    },
  })
  concurrency(@Param('consumer') consumer: string, @Body(new ZodPipe(ConcurrencyBodySchema)) body: z.infer<typeof ConcurrencyBodySchema>, @CurrentPrincipal() principal: Principal) {
    return this.audit.run(principal, 'consumer.concurrency', consumer, body, () => this.workers.setConcurrency(consumer, body.concurrency, body.workerId, principal.owner));
  }

  @Get('workers/active')
  @ApiOperation({ summary: 'inspect active: what each worker runs now, since when, and for which task' })
  active() {
    return this.workers.active();
  }

  @Get('workers/registered')
  @ApiOperation({ summary: 'inspect registered: the consumers each worker serves (subject, slots, paused), with its version' })
  registered() {
    return this.workers.registered();
  }

  @Get('workers/stats')
  @ApiOperation({ summary: 'inspect stats: handled, failed, retried, memory, event-loop lag and uptime per worker' })
  stats() {
    return this.workers.stats();
  }

  @Get('audit')
  @ApiOperation({ summary: 'Admin actions, newest first: who, what, target, parameters, outcome, when (cursor paging)' })
  @ApiQuery({ name: 'limit', required: false, schema: { type: 'integer', minimum: 1, maximum: 500, default: 100 } })
  @ApiQuery({ name: 'cursor', required: false })
  @ApiQuery({ name: 'actor', required: false })
  @ApiQuery({ name: 'action', required: false, example: 'queue.pause' })
  auditLog(@Query(new ZodPipe(AuditQuerySchema, 'query')) query: z.infer<typeof AuditQuerySchema>) {
    return this.audit.list(query);
  }
}
