import { Controller, Get, HttpCode, Inject, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiParam, ApiQuery, ApiTags } from '@nestjs/swagger';
import { STREAMS } from '@roadmap/contracts';
import { z } from 'zod';
import { UuidPipe, ZodPipe } from '../common/zod.pipe.js';
import { DeadLettersService } from './dead-letters.service.js';

const ListQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  stream: z.enum(Object.keys(STREAMS) as [string, ...string[]]).optional(),
});

/** /api/v1/admin/dead-letters: the admin role only (the guard answers 403 to others). */
@ApiTags('admin')
@ApiBearerAuth()
@Controller('api/v1/admin/dead-letters')
export class DeadLettersController {
  constructor(@Inject(DeadLettersService) private readonly deadLetters: DeadLettersService) {}

  @Get()
  @ApiOperation({ summary: 'Dead letters, newest first: stream, subject, reason, deliveries, task' })
  @ApiQuery({ name: 'limit', required: false, schema: { type: 'integer', minimum: 1, maximum: 500, default: 100 } })
  @ApiQuery({ name: 'stream', required: false, enum: Object.keys(STREAMS) })
  list(@Query(new ZodPipe(ListQuerySchema, 'query')) query: z.infer<typeof ListQuerySchema>) {
    return this.deadLetters.list(query.limit, query.stream);
  }

  @Get(':id')
  @ApiOperation({ summary: 'One dead letter with its headers and raw payload' })
  @ApiParam({ name: 'id', format: 'uuid' })
  get(@Param('id', new UuidPipe()) id: string) {
    return this.deadLetters.get(id);
  }

  @Post(':id/replay')
  @HttpCode(202)
  @ApiOperation({ summary: 'Put a dead letter back on its original subject' })
  @ApiParam({ name: 'id', format: 'uuid' })
  replay(@Param('id', new UuidPipe()) id: string) {
    return this.deadLetters.replay(id);
  }
}
