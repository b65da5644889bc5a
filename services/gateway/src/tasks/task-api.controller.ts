import { Body, Controller, Get, Headers, HttpCode, Inject, Param, Post, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiHeader, ApiOperation, ApiParam, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { CreateTaskRequestSchema, SignalRequestSchema, type CreateTaskRequest } from '@roadmap/contracts';
import { z } from 'zod';
import { CurrentPrincipal, scopeOf, type Principal } from '../auth/principal.js';
import { PriorityPolicy } from '../auth/priority-policy.js';
import { RateLimiter } from '../auth/rate-limiter.js';
import { UuidPipe, ZodPipe } from '../common/zod.pipe.js';
import { admitRequest } from './admission.js';
import { MAX_RESULT_WAIT_SECONDS, TaskApiService } from './task-api.service.js';


export const ResultQuerySchema = z.strictObject({
  /** Seconds to wait for the task to end before answering. */
  wait: z.coerce.number().min(0).max(MAX_RESULT_WAIT_SECONDS).default(0),
});

export const SignalNameSchema = z.string().regex(/^[a-z][a-z0-9_]{0,63}$/);

const errorSchema = {
  type: 'object',
  properties: { code: { type: 'string' }, message: { type: 'string' }, details: { type: 'array', items: { type: 'object' } } },
};

/** The unified task API (seed 004): every task type through the same endpoints. */
@ApiTags('tasks')
@ApiBearerAuth()
@ApiResponse({ status: 401, description: 'No valid credential (API key or JWT)', schema: errorSchema })
@Controller('api/v1')
export class TaskApiController {
  constructor(
    @Inject(TaskApiService) private readonly api: TaskApiService,
    @Inject(RateLimiter) private readonly rateLimiter: RateLimiter,
    @Inject(PriorityPolicy) private readonly priority: PriorityPolicy,
  ) {}

  @Post('tasks')
  @HttpCode(202)
  @ApiOperation({ summary: 'Accept a task of any registered type; its input is validated against the type’s schema' })
  @ApiBody({ schema: z.toJSONSchema(CreateTaskRequestSchema, { io: 'input', unrepresentable: 'any' }) as object })
  @ApiResponse({ status: 202, description: 'Accepted: the task id and where to follow it' })
  @ApiResponse({ status: 400, description: 'UNKNOWN_TASK_TYPE (the known types listed) or VALIDATION_FAILED (each field at fault, e.g. input.goals.3)', schema: errorSchema })
  @ApiResponse({ status: 403, description: 'PRIORITY_NOT_ALLOWED: high priority asked by a caller not granted it (details name priority)', schema: errorSchema })
  @ApiResponse({ status: 429, description: 'Too many tasks created by this caller; retry after Retry-After', schema: errorSchema })
  @ApiHeader({ name: 'Idempotency-Key', required: false, description: 'The same key within 24 h returns the first task (Idempotent-Replayed: true)' })
  async create(
    @Body(new ZodPipe(CreateTaskRequestSchema)) body: CreateTaskRequest,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
    @CurrentPrincipal() principal: Principal,
  ) {
    // Before the rate limit: a refused priority spends no token.
    await this.priority.assertAllowed(principal, body.priority);
    const key = await admitRequest(this.rateLimiter, principal.owner, idempotencyKey);
    const { replayed, body: accepted } = await this.api.create(principal.owner, body, key);
    if (replayed) void reply.header('Idempotent-Replayed', 'true');
    return accepted;
  }

  @Get('tasks/:id/result')
  @ApiOperation({ summary: 'A completed task’s typed result; 409 NOT_COMPLETED with its status otherwise; ?wait=N waits up to N seconds (at most 60)' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiQuery({ name: 'wait', required: false, schema: { type: 'number', minimum: 0, maximum: MAX_RESULT_WAIT_SECONDS, default: 0 } })
  @ApiResponse({ status: 404, description: 'No such task', schema: errorSchema })
  @ApiResponse({ status: 409, description: 'NOT_COMPLETED: the task is queued, running, waiting, failed (its error) or cancelled', schema: errorSchema })
  result(
    @Param('id', new UuidPipe()) id: string,
    @Query(new ZodPipe(ResultQuerySchema, 'query')) query: z.infer<typeof ResultQuerySchema>,
    @CurrentPrincipal() principal: Principal,
  ) {
    return this.api.result(id, scopeOf(principal), query.wait);
  }

  @Post('tasks/:id/signals/:name')
  @HttpCode(202)
  @ApiOperation({ summary: 'Send the signal a waiting task asks for, with its typed payload (the task types list each type’s signals)' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiParam({ name: 'name', schema: { type: 'string' } })
  @ApiBody({ schema: z.toJSONSchema(SignalRequestSchema, { io: 'input', unrepresentable: 'any' }) as object })
  @ApiResponse({ status: 400, description: 'An unknown signal, or a payload that does not fit its schema', schema: errorSchema })
  @ApiResponse({ status: 409, description: 'The task is not waiting for this signal', schema: errorSchema })
  signal(
    @Param('id', new UuidPipe()) id: string,
    @Param('name', new ZodPipe(SignalNameSchema, 'signal name')) name: string,
    @Body(new ZodPipe(SignalRequestSchema)) body: z.infer<typeof SignalRequestSchema>,
    @CurrentPrincipal() principal: Principal,
  ) {
    return this.api.signal(id, name, body.payload, scopeOf(principal));
  }

  @Get('task-types')
  @ApiOperation({ summary: 'Every task type with its version and the JSON Schema of its input, result and signals' })
  taskTypes() {
    return this.api.taskTypes();
  }
}
