import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal, type Principal } from './principal.js';

/** /api/v1/admin/*: the admin role only (the guard answers 403 to others). */
@ApiTags('admin')
@ApiBearerAuth()
@Controller('api/v1/admin')
export class AdminController {
  @Get('whoami')
  @ApiOperation({ summary: 'The calling admin: owner and role (403 for a non-admin caller)' })
  whoami(@CurrentPrincipal() principal: Principal) {
    return { owner: principal.owner, role: principal.role };
  }
}
