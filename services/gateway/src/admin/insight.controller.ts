import { Controller, Get, Headers, Inject, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiOperation, ApiProduces, ApiQuery, ApiTags } from '@nestjs/swagger';
import { TASK_STATUSES } from '@roadmap/contracts';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { ZodPipe } from '../common/zod.pipe.js';
import { parseLastEventId } from '../events/sse.js';
import { FEED_LEVELS, LiveFeedService } from './live-feed.service.js';
import { SearchService } from './search.service.js';

export const SearchQuerySchema = z.strictObject({
  q: z.string().max(200).optional(),
  owner: z.string().max(200).optional(),
  type: z.string().max(100).optional(),
  status: z.enum(TASK_STATUSES).optional(),
  code: z.string().max(100).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(300).optional(),
});

export const FeedQuerySchema = z.strictObject({
  type: z
    .string()
    .max(500)
    .regex(/^[A-Za-z0-9._*-]+(,[A-Za-z0-9._*-]+)*$/, 'comma-separated event types or prefixes (item.*)')
    .optional(),
  owner: z.string().max(200).optional(),
  level: z.enum(FEED_LEVELS).default('info'),
  lastEventId: z.string().max(20).optional(),
});

/** Search across owners and the live feed of every task's events. Admin role only. */
@ApiTags('admin')
@ApiBearerAuth()
@Controller('api/v1/admin')
export class InsightController {
  constructor(
    @Inject(SearchService) private readonly searchService: SearchService,
    @Inject(LiveFeedService) private readonly feed: LiveFeedService,
  ) {}

  @Get('tasks/search')
  @ApiOperation({ summary: 'Search tasks across owners: goal words (prefixes) or an id prefix in q, owner, type, status, error code; newest first' })
  @ApiQuery({ name: 'q', required: false, description: 'Goal words, or a task id prefix (4+ hex digits)' })
  @ApiQuery({ name: 'owner', required: false })
  @ApiQuery({ name: 'type', required: false, example: 'roadmap.generate' })
  @ApiQuery({ name: 'status', required: false, enum: TASK_STATUSES })
  @ApiQuery({ name: 'code', required: false, description: 'The error code of a failed or cancelled task', example: 'ITEMS_FAILED' })
  @ApiQuery({ name: 'limit', required: false, schema: { type: 'integer', minimum: 1, maximum: 200, default: 50 } })
  @ApiQuery({ name: 'cursor', required: false })
  search(@Query(new ZodPipe(SearchQuerySchema, 'query')) query: z.infer<typeof SearchQuerySchema>) {
    return this.searchService.search(query);
  }

  @Get('events')
  @ApiOperation({
    summary: 'Live feed of every task’s events (Server-Sent Events) from now, filterable by type, owner and level; each event carries owner and level',
  })
  @ApiProduces('text/event-stream')
  @ApiQuery({ name: 'type', required: false, description: 'Comma-separated event types or prefixes: task.failed,item.*' })
  @ApiQuery({ name: 'owner', required: false })
  @ApiQuery({ name: 'level', required: false, enum: FEED_LEVELS, description: 'Lowest level shown (default info; item.partial is debug)' })
  @ApiHeader({ name: 'Last-Event-ID', required: false, description: 'Resume after this event id' })
  async events(
    @Query(new ZodPipe(FeedQuerySchema, 'query')) query: z.infer<typeof FeedQuerySchema>,
    @Headers('last-event-id') lastEventId: string | undefined,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const types = query.type ? query.type.split(',') : [];
    await this.feed.stream({ types, owner: query.owner, level: query.level }, parseLastEventId(lastEventId, query.lastEventId), reply);
  }
}
