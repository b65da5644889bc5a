import { Body, Controller, Get, HttpCode, Inject, Param, Put, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { OwnerPolicies } from '../auth/owner-policies.js';
import { CurrentPrincipal, type Principal } from '../auth/principal.js';
import { PriorityPolicy } from '../auth/priority-policy.js';
import { ZodPipe } from '../common/zod.pipe.js';
import { AuditService } from './audit.service.js';

export const OwnerParamSchema = z.string().min(1).max(200);
export const OwnerPolicyBodySchema = z.strictObject({
  /** Fair dispatch: an owner with weight 3 gets three turns for another's one. */
  weight: z.number().int().min(1).max(100).optional(),
  /** May the owner ask for `high` priority. */
  priorityHigh: z.boolean().optional(),
});
export const OwnerPoliciesQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  cursor: z.string().max(400).optional(),
});

/**
 * What admins grant owners (issue 19): the dispatch weight fair dispatch reads and the `high`
 * priority grant the admission checks. Admin role only (the guard answers 403); every change is
 * audited. A change applies at once on this replica and within GRANT_CACHE_MS on the others.
 */
@ApiTags('admin')
@ApiBearerAuth()
@Controller('api/v1/admin/owners')
export class OwnerPoliciesController {
  constructor(
    @Inject(OwnerPolicies) private readonly policies: OwnerPolicies,
    @Inject(PriorityPolicy) private readonly priority: PriorityPolicy,
    @Inject(AuditService) private readonly audit: AuditService,
  ) {}

  @Get('policies')
  @ApiOperation({ summary: 'Owners with a policy set, by name (cursor paging); an owner not listed has weight 1 and no high priority' })
  list(@Query(new ZodPipe(OwnerPoliciesQuerySchema, 'query')) query: z.infer<typeof OwnerPoliciesQuerySchema>) {
    return this.policies.list(query);
  }

  @Get(':owner/policy')
  @ApiOperation({ summary: "An owner's policy: dispatch weight and high-priority grant (the defaults for an owner never set)" })
  @ApiParam({ name: 'owner' })
  get(@Param('owner', new ZodPipe(OwnerParamSchema, 'owner')) owner: string) {
    return this.policies.get(owner);
  }

  @Put(':owner/policy')
  @HttpCode(200)
  @ApiOperation({ summary: "Set an owner's dispatch weight (1-100) and/or high-priority grant; fields left out keep their value" })
  @ApiParam({ name: 'owner' })
  set(
    @Param('owner', new ZodPipe(OwnerParamSchema, 'owner')) owner: string,
    @Body(new ZodPipe(OwnerPolicyBodySchema)) body: z.infer<typeof OwnerPolicyBodySchema>,
    @CurrentPrincipal() principal: Principal,
  ) {
    return this.audit.run(principal, 'owner.policy', owner, body, async () => {
      const policy = await this.policies.set(owner, body, principal.owner);
      this.priority.forget(owner);
      return policy;
    });
  }
}
