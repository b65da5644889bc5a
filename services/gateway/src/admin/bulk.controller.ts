import { Body, Controller, Get, HttpCode, Inject, Param, Post, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiParam, ApiQuery, ApiTags } from '@nestjs/swagger';
import { TASK_STATUSES } from '@roadmap/contracts';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { CurrentPrincipal, type Principal } from '../auth/principal.js';
import { UuidPipe, ZodPipe } from '../common/zod.pipe.js';
import { AuditService } from './audit.service.js';
import { BULK_CAP, DEAD_LETTER_BULK_ACTIONS, DeadLetterBulkSchema, TASK_BULK_ACTIONS, TaskBulkSchema } from './bulk-filters.js';
import { BulkService } from './bulk.service.js';

export const JobsQuerySchema = z.strictObject({ limit: z.coerce.number().int().min(1).max(200).default(50) });

const range = { createdFrom: { type: 'string', format: 'date-time' }, createdTo: { type: 'string', format: 'date-time' } };
const ids = { type: 'array', items: { type: 'string', format: 'uuid' }, maxItems: BULK_CAP };

/**
 * Bulk actions by filter, like Bull Board's "retry all" and "clean", but selected by a filter, with a
 * dry run first, and run as a task (admin.bulk, in the workflow worker) with progress. Admin role only
 * (the guard answers 403).
 */
@ApiTags('admin')
@ApiBearerAuth()
@Controller('api/v1/admin')
export class BulkController {
  constructor(
    @Inject(BulkService) private readonly bulk: BulkService,
    @Inject(AuditService) private readonly audit: AuditService,
  ) {}

  @Post('tasks/bulk')
  @HttpCode(200)
  @ApiOperation({
    summary: `Cancel, resume or retry the failed items of the tasks a filter matches: dryRun counts them and shows a sample; the real run (202) is an admin.bulk task (taskId) over at most ${BULK_CAP}`,
  })
  @ApiBody({
    schema: {
      type: 'object',
      required: ['action', 'filter'],
      properties: {
        action: { type: 'string', enum: [...TASK_BULK_ACTIONS] },
        dryRun: { type: 'boolean' },
        filter: {
          type: 'object',
          properties: {
            status: { oneOf: [{ type: 'string', enum: [...TASK_STATUSES] }, { type: 'array', items: { type: 'string', enum: [...TASK_STATUSES] } }] },
            type: { type: 'string' },
            owner: { type: 'string' },
            errorCode: { type: 'string' },
            ...range,
            ids,
          },
        },
      },
    },
  })
  async tasks(@Body(new ZodPipe(TaskBulkSchema)) body: z.infer<typeof TaskBulkSchema>, @CurrentPrincipal() principal: Principal, @Res({ passthrough: true }) reply: FastifyReply) {
    const act = () => this.bulk.tasks(body.action, body.filter, body.dryRun, principal.owner);
    if (body.dryRun) return act();
    reply.status(202);
    return this.audit.run(principal, 'tasks.bulk', body.action, { filter: body.filter }, act);
  }

  @Post('dead-letters/bulk')
  @HttpCode(200)
  @ApiOperation({ summary: `Replay or discard the dead letters a filter matches: dryRun counts them and shows a sample; the real run (202) is an admin.bulk task (taskId) over at most ${BULK_CAP}` })
  @ApiBody({
    schema: {
      type: 'object',
      required: ['action', 'filter'],
      properties: {
        action: { type: 'string', enum: [...DEAD_LETTER_BULK_ACTIONS] },
        dryRun: { type: 'boolean' },
        filter: { type: 'object', properties: { stream: { type: 'string' }, reason: { type: 'string' }, taskId: { type: 'string', format: 'uuid' }, ...range, ids } },
      },
    },
  })
  async deadLetters(@Body(new ZodPipe(DeadLetterBulkSchema)) body: z.infer<typeof DeadLetterBulkSchema>, @CurrentPrincipal() principal: Principal, @Res({ passthrough: true }) reply: FastifyReply) {
    const act = () => this.bulk.deadLetterBulk(body.action, body.filter, body.dryRun, principal.owner);
    if (body.dryRun) return act();
    reply.status(202);
    return this.audit.run(principal, 'dead-letters.bulk', body.action, { filter: body.filter }, act);
  }

  @Get('jobs')
  @ApiOperation({ summary: 'Bulk-action jobs, newest first, with their progress' })
  @ApiQuery({ name: 'limit', required: false, schema: { type: 'integer', minimum: 1, maximum: 200, default: 50 } })
  jobs(@Query(new ZodPipe(JobsQuerySchema, 'query')) query: z.infer<typeof JobsQuerySchema>) {
    return this.bulk.jobs(query.limit);
  }

  @Get('jobs/:id')
  @ApiOperation({ summary: 'One bulk-action job: status, total, done, failed, skipped, and the first errors' })
  @ApiParam({ name: 'id', format: 'uuid' })
  job(@Param('id', new UuidPipe()) id: string) {
    return this.bulk.job(id);
  }
}
