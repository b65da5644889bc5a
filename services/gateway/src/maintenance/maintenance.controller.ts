import { Controller, Get, Inject, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { MAINTENANCE_JOBS } from '@roadmap/contracts';
import { z } from 'zod';
import { ZodPipe } from '../common/zod.pipe.js';
import { MaintenanceService } from './maintenance.service.js';

export const ListQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(200).default(20),
  job: z.string().regex(/^[a-z][a-z0-9-]{0,63}$/).optional(),
});

/** /api/v1/admin/maintenance: the admin role only (the guard answers 403 to others). */
@ApiTags('admin')
@ApiBearerAuth()
@Controller('api/v1/admin/maintenance')
export class MaintenanceController {
  constructor(@Inject(MaintenanceService) private readonly maintenance: MaintenanceService) {}

  @Get()
  @ApiOperation({ summary: 'Scheduled maintenance jobs with their recent runs (newest first): outcome, duration, rows, instance' })
  @ApiQuery({ name: 'limit', required: false, schema: { type: 'integer', minimum: 1, maximum: 200, default: 20 }, description: 'runs per job' })
  @ApiQuery({ name: 'job', required: false, enum: [...MAINTENANCE_JOBS] })
  list(@Query(new ZodPipe(ListQuerySchema, 'query')) query: z.infer<typeof ListQuerySchema>) {
    return this.maintenance.list(query.limit, query.job);
  }
}
