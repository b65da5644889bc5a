import { Body, Controller, Get, HttpCode, Inject, Param, Post, Query } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiParam, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import { CreateRoadmapRequestSchema, type CreateRoadmapRequest } from '@roadmap/contracts';
import { z } from 'zod';
import { UuidPipe, ZodPipe } from '../common/zod.pipe.js';
import { ANONYMOUS_OWNER, TasksService } from './tasks.service.js';

const LogsQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(1000).default(200),
  cursor: z.string().max(200).optional(),
});

const errorSchema = {
  type: 'object',
  properties: {
    code: { type: 'string', example: 'VALIDATION_FAILED' },
    message: { type: 'string' },
    details: { type: 'array', items: { type: 'object', properties: { field: { type: 'string' }, message: { type: 'string' } } } },
  },
};

@ApiTags('roadmaps')
@Controller('api/v1/roadmaps')
export class RoadmapsController {
  constructor(@Inject(TasksService) private readonly tasks: TasksService) {}

  @Post()
  @HttpCode(202)
  @ApiOperation({ summary: 'Accept a learning goal; the roadmap is generated in the background' })
  @ApiBody({ schema: z.toJSONSchema(CreateRoadmapRequestSchema, { io: 'input' }) as object })
  @ApiResponse({ status: 202, description: 'Accepted: the task id, the roadmap id and where to follow them' })
  @ApiResponse({ status: 400, description: 'Invalid body (field at fault in details)', schema: errorSchema })
  @ApiResponse({ status: 413, description: 'Body over the size limit', schema: errorSchema })
  @ApiResponse({ status: 503, description: 'Queue unavailable; retry after Retry-After', schema: errorSchema })
  create(@Body(new ZodPipe(CreateRoadmapRequestSchema)) body: CreateRoadmapRequest) {
    return this.tasks.createRoadmap(ANONYMOUS_OWNER, body);
  }

  @Get(':id')
  @ApiOperation({ summary: 'The roadmap: framework, stages, concepts and each concept’s tutorial, resources and quiz' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiResponse({ status: 404, description: 'No such roadmap', schema: errorSchema })
  get(@Param('id', new UuidPipe()) id: string) {
    return this.tasks.getRoadmap(id);
  }
}

@ApiTags('tasks')
@Controller('api/v1/tasks')
export class TasksController {
  constructor(@Inject(TasksService) private readonly tasks: TasksService) {}

  @Get(':id')
  @ApiOperation({ summary: 'Status, current step and progress of a task (the polling view)' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiResponse({ status: 404, description: 'No such task', schema: errorSchema })
  get(@Param('id', new UuidPipe()) id: string) {
    return this.tasks.getTask(id);
  }

  @Get(':id/logs')
  @ApiOperation({ summary: 'Execution logs of a task, oldest first, cursor-paginated' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiQuery({ name: 'limit', required: false, schema: { type: 'integer', minimum: 1, maximum: 1000, default: 200 } })
  @ApiQuery({ name: 'cursor', required: false, schema: { type: 'string' } })
  logs(@Param('id', new UuidPipe()) id: string, @Query(new ZodPipe(LogsQuerySchema, 'query')) query: z.infer<typeof LogsQuerySchema>) {
    return this.tasks.getLogs(id, query.cursor, query.limit);
  }
}
