import { Controller, Get, Inject, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { TASK_STATUSES } from '@roadmap/contracts';
import { z } from 'zod';
import { CurrentPrincipal, scopeOf, type Principal } from '../auth/principal.js';
import { ZodPipe } from '../common/zod.pipe.js';
import { ConsoleService } from './console.service.js';

export const StatsQuerySchema = z.strictObject({
  minutes: z.coerce.number().int().min(5).max(24 * 60).default(60),
});

export const TasksQuerySchema = z.strictObject({
  status: z.enum(TASK_STATUSES).optional(),
  // PostgreSQL text cannot hold NUL: refused here as a 400, not a database error.
  q: z.string().max(200).regex(/^[^\u0000]*$/, 'must not contain NUL characters').optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(200).optional(),
});

/** Read models for the web console (/console) that the resource endpoints do not offer. */
@ApiTags('console')
@ApiBearerAuth()
@Controller('api/v1/console')
export class ConsoleController {
  constructor(@Inject(ConsoleService) private readonly console: ConsoleService) {}

  @Get('task-stats')
  @ApiOperation({ summary: 'Tasks created in the last `minutes` (60), counted by status, overall and per 5-minute bucket' })
  @ApiQuery({ name: 'minutes', required: false, schema: { type: 'integer', minimum: 5, maximum: 1440, default: 60 } })
  taskStats(@Query(new ZodPipe(StatsQuerySchema, 'query')) query: z.infer<typeof StatsQuerySchema>, @CurrentPrincipal() principal: Principal) {
    return this.console.taskStats(scopeOf(principal), query.minutes);
  }

  @Get('tasks')
  @ApiOperation({ summary: 'Tasks newest first with their goal, filtered by status and a search (goal words, or the start of a task or roadmap id)' })
  @ApiQuery({ name: 'status', required: false, enum: TASK_STATUSES })
  @ApiQuery({ name: 'q', required: false, schema: { type: 'string', maxLength: 200 } })
  @ApiQuery({ name: 'limit', required: false, schema: { type: 'integer', minimum: 1, maximum: 200, default: 50 } })
  @ApiQuery({ name: 'cursor', required: false, schema: { type: 'string' } })
  tasks(@Query(new ZodPipe(TasksQuerySchema, 'query')) query: z.infer<typeof TasksQuerySchema>, @CurrentPrincipal() principal: Principal) {
    return this.console.listTasks(scopeOf(principal), query);
  }
}
