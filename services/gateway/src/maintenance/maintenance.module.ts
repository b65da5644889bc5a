import { Module } from '@nestjs/common';
import { MaintenanceController } from './maintenance.controller.js';
import { MaintenanceService } from './maintenance.service.js';

/**
 * The run history of scheduled maintenance (GET /api/v1/admin/maintenance). The jobs themselves run
 * in the workflow worker, which owns the task lifecycle; the gateway reads what they recorded.
 */
@Module({ controllers: [MaintenanceController], providers: [MaintenanceService] })
export class MaintenanceModule {}
