import { Body, Controller, Get, Headers, HttpCode, Inject, Param, Post, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiHeader, ApiOperation, ApiParam, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import {
  LOG_LEVELS,
  CreateRoadmapRequestSchema,
  ForbiddenError,
  RetryItemsRequestSchema,
  ReviewRequestSchema,
  TASK_STATUSES,
  TASK_TYPES,
  type CreateRoadmapRequest,
  type RetryItemsRequest,
  type ReviewRequest,
} from '@roadmap/contracts';
import { z } from 'zod';
import { UuidPipe, ZodPipe } from '../common/zod.pipe.js';
import { admitRequest } from './admission.js';
import { PriorityPolicy } from '../auth/priority-policy.js';
import { RateLimiter } from '../auth/rate-limiter.js';
import { CurrentPrincipal, scopeOf, type Principal } from '../auth/principal.js';
import { TasksService } from './tasks.service.js';


export const ListQuerySchema = z.strictObject({
  status: z.enum(TASK_STATUSES).optional(),
  type: z.string().regex(/^[a-z][a-z0-9.-]{0,99}$/).optional(),
  /** The children of this task (a batch's roadmaps). */
  parentId: z.uuid().optional(),
  createdAfter: z.iso.datetime({ offset: true }).optional(),
  createdBefore: z.iso.datetime({ offset: true }).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(200).optional(),
});

export const LogsQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(1000).default(200),
  cursor: z.string().max(200).optional(),
  /** The least severe level returned: `warn` gives warnings and errors. */
  level: z.enum(LOG_LEVELS).optional(),
});

export const LlmCallsQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(200).optional(),
  subject: z.string().min(1).max(300).optional(),
  include: z.enum(['content']).optional(),
});

const DAY_MS = 86_400_000;
/** Longest range GET /usage answers in one request, in days. */
const MAX_USAGE_DAYS = 366;

export const UsageQuerySchema = z
  .strictObject({
    from: z.iso.date().optional(),
    to: z.iso.date().optional(),
    owner: z.string().min(1).max(200).optional(),
  })
  .transform((q) => {
    const to = q.to ?? new Date().toISOString().slice(0, 10);
    const from = q.from ?? new Date(Date.parse(to) - 29 * DAY_MS).toISOString().slice(0, 10);
    return { ...q, from, to };
  })
  .refine((q) => q.from <= q.to, { path: ['from'], message: 'must not be after to' })
  .refine((q) => (Date.parse(q.to) - Date.parse(q.from)) / DAY_MS < MAX_USAGE_DAYS, { path: ['from'], message: `at most ${MAX_USAGE_DAYS} days before to` });

const errorSchema = {
  type: 'object',
  properties: {
    code: { type: 'string', example: 'VALIDATION_FAILED' },
    message: { type: 'string' },
    details: { type: 'array', items: { type: 'object', properties: { field: { type: 'string' }, message: { type: 'string' } } } },
  },
};

@ApiTags('roadmaps')
@ApiBearerAuth()
@ApiResponse({ status: 401, description: 'No valid credential (API key or JWT)', schema: errorSchema })
@Controller('api/v1/roadmaps')
export class RoadmapsController {
  constructor(
    @Inject(TasksService) private readonly tasks: TasksService,
    @Inject(RateLimiter) private readonly rateLimiter: RateLimiter,
    @Inject(PriorityPolicy) private readonly priority: PriorityPolicy,
  ) {}

  @Post()
  @HttpCode(202)
  @ApiOperation({ summary: 'Accept a learning goal; the roadmap is generated in the background' })
  @ApiBody({ schema: z.toJSONSchema(CreateRoadmapRequestSchema, { io: 'input' }) as object })
  @ApiResponse({ status: 202, description: 'Accepted: the task id, the roadmap id and where to follow them' })
  @ApiResponse({ status: 400, description: 'Invalid body (field at fault in details)', schema: errorSchema })
  @ApiResponse({ status: 413, description: 'Body over the size limit', schema: errorSchema })
  @ApiResponse({ status: 403, description: 'PRIORITY_NOT_ALLOWED: high priority asked by a caller not granted it (details name priority)', schema: errorSchema })
  @ApiResponse({ status: 429, description: 'Too many tasks created by this caller; retry after Retry-After', schema: errorSchema })
  @ApiResponse({ status: 503, description: 'Queue unavailable; retry after Retry-After', schema: errorSchema })
  @ApiHeader({ name: 'Idempotency-Key', required: false, description: 'The same key within 24 h returns the first task (Idempotent-Replayed: true)' })
  async create(
    @Body(new ZodPipe(CreateRoadmapRequestSchema)) body: CreateRoadmapRequest,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
    @CurrentPrincipal() principal: Principal,
  ) {
    // Before the rate limit: a refused priority spends no token.
    await this.priority.assertAllowed(principal, body.priority);
    const key = await admitRequest(this.rateLimiter, principal.owner, idempotencyKey);
    const { replayed, body: accepted } = await this.tasks.createRoadmap(principal.owner, body, key);
    if (replayed) void reply.header('Idempotent-Replayed', 'true');
    return accepted;
  }

  @Get(':id')
  @ApiOperation({ summary: 'The roadmap: framework, stages, concepts and each concept’s tutorial, resources and quiz' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiResponse({ status: 404, description: 'No such roadmap', schema: errorSchema })
  get(@Param('id', new UuidPipe()) id: string, @CurrentPrincipal() principal: Principal) {
    return this.tasks.getRoadmap(id, scopeOf(principal));
  }

  @Get(':id/revisions')
  @ApiOperation({ summary: 'Every framework version: who asked for what change, when, and what it changed (added, removed, changed concepts)' })
  @ApiParam({ name: 'id', format: 'uuid' })
  revisions(@Param('id', new UuidPipe()) id: string, @CurrentPrincipal() principal: Principal) {
    return this.tasks.getRevisions(id, scopeOf(principal));
  }

  @Post(':id/review')
  @HttpCode(202)
  @ApiOperation({ summary: 'Approve the framework (content generation starts) or ask for a revision with feedback' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiBody({ schema: z.toJSONSchema(ReviewRequestSchema, { io: 'input' }) as object })
  @ApiResponse({ status: 409, description: 'The roadmap is not awaiting a review', schema: errorSchema })
  review(
    @Param('id', new UuidPipe()) id: string,
    @Body(new ZodPipe(ReviewRequestSchema)) body: ReviewRequest,
    @CurrentPrincipal() principal: Principal,
  ) {
    return this.tasks.review(id, scopeOf(principal), principal.owner, body);
  }

  @Post(':id/concepts/:conceptId/retry')
  @HttpCode(202)
  @ApiOperation({ summary: 'Regenerate some of a concept’s items (tutorial, resources, quiz)' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiParam({ name: 'conceptId', format: 'uuid' })
  @ApiBody({ schema: z.toJSONSchema(RetryItemsRequestSchema, { io: 'input' }) as object })
  @ApiResponse({ status: 404, description: 'No such roadmap or concept', schema: errorSchema })
  @ApiResponse({ status: 409, description: 'An item is still being generated', schema: errorSchema })
  retry(
    @Param('id', new UuidPipe()) id: string,
    @Param('conceptId', new UuidPipe('conceptId')) conceptId: string,
    @Body(new ZodPipe(RetryItemsRequestSchema)) body: RetryItemsRequest,
    @CurrentPrincipal() principal: Principal,
  ) {
    return this.tasks.retryItems(id, conceptId, scopeOf(principal), body);
  }
}

@ApiTags('tasks')
@ApiBearerAuth()
@ApiResponse({ status: 401, description: 'No valid credential (API key or JWT)', schema: errorSchema })
@Controller('api/v1/tasks')
export class TasksController {
  constructor(@Inject(TasksService) private readonly tasks: TasksService) {}

  @Get()
  @ApiOperation({ summary: 'Tasks, newest first, filtered by status, type and creation time, cursor-paginated' })
  @ApiQuery({ name: 'status', required: false, enum: TASK_STATUSES })
  @ApiQuery({ name: 'type', required: false, schema: { type: 'string', example: TASK_TYPES[0] } })
  @ApiQuery({ name: 'parentId', required: false, schema: { type: 'string', format: 'uuid' }, description: "a task's children (a batch's roadmaps)" })
  @ApiQuery({ name: 'createdAfter', required: false, schema: { type: 'string', format: 'date-time' } })
  @ApiQuery({ name: 'createdBefore', required: false, schema: { type: 'string', format: 'date-time' } })
  @ApiQuery({ name: 'limit', required: false, schema: { type: 'integer', minimum: 1, maximum: 200, default: 50 } })
  @ApiQuery({ name: 'cursor', required: false, schema: { type: 'string' } })
  list(@Query(new ZodPipe(ListQuerySchema, 'query')) query: z.infer<typeof ListQuerySchema>, @CurrentPrincipal() principal: Principal) {
    return this.tasks.listTasks(scopeOf(principal), query);
  }

  @Post(':id/cancel')
  @HttpCode(200)
  @ApiOperation({ summary: 'Cancel a task: in-flight LLM calls are aborted, queued work is skipped; cancelling twice is harmless' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiResponse({ status: 409, description: 'The task already completed or failed', schema: errorSchema })
  cancel(@Param('id', new UuidPipe()) id: string, @CurrentPrincipal() principal: Principal) {
    return this.tasks.cancel(id, scopeOf(principal));
  }

  @Post(':id/resume')
  @HttpCode(202)
  @ApiOperation({ summary: 'Resume a failed or cancelled task from its last checkpoint (completed items are kept)' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiResponse({ status: 409, description: 'The task is running, waiting for review, or completed', schema: errorSchema })
  resume(@Param('id', new UuidPipe()) id: string, @CurrentPrincipal() principal: Principal) {
    return this.tasks.resume(id, scopeOf(principal));
  }

  @Get(':id')
  @ApiOperation({ summary: 'Status, current step and progress of a task, and per concept the state of each item (the polling view)' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiResponse({ status: 404, description: 'No such task', schema: errorSchema })
  get(@Param('id', new UuidPipe()) id: string, @CurrentPrincipal() principal: Principal) {
    return this.tasks.getTask(id, scopeOf(principal));
  }

  @Get(':id/logs')
  @ApiOperation({ summary: 'Execution logs of a task, oldest first, cursor-paginated' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiQuery({ name: 'limit', required: false, schema: { type: 'integer', minimum: 1, maximum: 1000, default: 200 } })
  @ApiQuery({ name: 'cursor', required: false, schema: { type: 'string' } })
  @ApiQuery({ name: 'level', required: false, enum: LOG_LEVELS, description: 'the least severe level returned (warn: warnings and errors)' })
  logs(
    @Param('id', new UuidPipe()) id: string,
    @Query(new ZodPipe(LogsQuerySchema, 'query')) query: z.infer<typeof LogsQuerySchema>,
    @CurrentPrincipal() principal: Principal,
  ) {
    return this.tasks.getLogs(id, scopeOf(principal), query.cursor, query.limit, query.level);
  }

  @Get(':id/llm-calls')
  @ApiOperation({ summary: 'Every LLM call made for a task (one per provider attempt), oldest first, cursor-paginated; prompts and responses with include=content' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiQuery({ name: 'subject', required: false, description: 'a workflow step (curriculum_design) or an item (<conceptId>:<kind>)', schema: { type: 'string' } })
  @ApiQuery({ name: 'include', required: false, enum: ['content'] })
  @ApiQuery({ name: 'limit', required: false, schema: { type: 'integer', minimum: 1, maximum: 200, default: 50 } })
  @ApiQuery({ name: 'cursor', required: false, schema: { type: 'string' } })
  @ApiResponse({ status: 404, description: 'No such task', schema: errorSchema })
  llmCalls(
    @Param('id', new UuidPipe()) id: string,
    @Query(new ZodPipe(LlmCallsQuerySchema, 'query')) query: z.infer<typeof LlmCallsQuerySchema>,
    @CurrentPrincipal() principal: Principal,
  ) {
    return this.tasks.getLlmCalls(id, scopeOf(principal), { ...query, includeContent: query.include === 'content' });
  }

  @Get(':id/llm-calls/:callId')
  @ApiOperation({ summary: 'One LLM call of a task with its rendered prompt and the raw response' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiParam({ name: 'callId', format: 'uuid' })
  @ApiResponse({ status: 404, description: 'No such task or call', schema: errorSchema })
  llmCall(@Param('id', new UuidPipe()) id: string, @Param('callId', new UuidPipe('callId')) callId: string, @CurrentPrincipal() principal: Principal) {
    return this.tasks.getLlmCall(id, callId, scopeOf(principal));
  }
}

@ApiTags('usage')
@ApiBearerAuth()
@ApiResponse({ status: 401, description: 'No valid credential (API key or JWT)', schema: errorSchema })
@Controller('api/v1/usage')
export class UsageController {
  constructor(@Inject(TasksService) private readonly tasks: TasksService) {}

  @Get()
  @ApiOperation({ summary: "The caller's LLM usage per UTC day (tokens, estimated cost, calls, per model); an admin may ask for another owner's" })
  @ApiQuery({ name: 'from', required: false, schema: { type: 'string', format: 'date' }, description: 'first UTC day (default: 29 days before to)' })
  @ApiQuery({ name: 'to', required: false, schema: { type: 'string', format: 'date' }, description: 'last UTC day (default: today)' })
  @ApiQuery({ name: 'owner', required: false, schema: { type: 'string' }, description: 'admin only: whose usage' })
  @ApiResponse({ status: 403, description: "Another owner's usage without the admin role", schema: errorSchema })
  usage(@Query(new ZodPipe(UsageQuerySchema, 'query')) query: z.infer<typeof UsageQuerySchema>, @CurrentPrincipal() principal: Principal) {
    const owner = query.owner ?? principal.owner;
    if (owner !== principal.owner && principal.role !== 'admin') throw new ForbiddenError("Only an admin may read another owner's usage");
    return this.tasks.getUsage(owner, query.from, query.to);
  }
}
