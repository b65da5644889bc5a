import { Module } from '@nestjs/common';
import { ConsoleController } from './console.controller.js';
import { ConsoleService } from './console.service.js';

/** The console's own read endpoints (/api/v1/console/*); its static files are served by installConsole. */
@Module({ controllers: [ConsoleController], providers: [ConsoleService] })
export class ConsoleModule {}
