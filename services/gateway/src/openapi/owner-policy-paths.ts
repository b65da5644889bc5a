import { z } from 'zod';
import type { ZodOpenApiPathsObject } from 'zod-openapi';
import { OwnerParamSchema, OwnerPoliciesQuerySchema, OwnerPolicyBodySchema } from '../admin/owner-policies.controller.js';
import { errors, json, op } from './operations.js';

/* What admins grant owners (issue 19): dispatch weight and the high-priority grant. */

const instant = z.iso.datetime({ offset: true });

export const OwnerPolicySchema = z
  .object({
    owner: z.string(),
    weight: z.number().int().min(1).max(100).meta({ description: 'Fair dispatch: an owner with 3 gets three turns for another’s one' }),
    priorityHigh: z.boolean().meta({ description: 'May ask for priority high (admins always may; an API key may be granted it on its own)' }),
    updatedBy: z.string().nullable().meta({ description: 'The admin who set it last; null for an owner never set (the defaults)' }),
    updatedAt: instant.nullable(),
  })
  .meta({ id: 'OwnerPolicy', description: 'An owner’s policy; an owner never set has weight 1 and no high priority' });

export const OwnerPolicyPageSchema = z
  .object({ items: z.array(OwnerPolicySchema), nextCursor: z.string().nullable() })
  .meta({ id: 'OwnerPolicyPage', description: 'Owners with a policy set, by name' });

const example = { owner: 'alice', weight: 3, priorityHigh: true, updatedBy: 'ops', updatedAt: '2026-12-07T10:00:00.000Z' };
const owner = z.object({ owner: OwnerParamSchema.meta({ description: 'The owner (a JWT’s sub, an API key’s owner)', example: 'alice' }) });
const admin = { admin: true };

export const ownerPolicyPaths: ZodOpenApiPathsObject = {
  '/api/v1/admin/owners/policies': {
    get: op('admin', 'listOwnerPolicies', 'Owners with a policy set, by name (cursor paging); an owner not listed has weight 1 and no high priority', {
      requestParams: { query: OwnerPoliciesQuerySchema },
      responses: { '200': json('A page of policies', OwnerPolicyPageSchema, { items: [example], nextCursor: null }), ...errors('400') },
    }, admin),
  },
  '/api/v1/admin/owners/{owner}/policy': {
    get: op('admin', 'getOwnerPolicy', 'An owner’s policy: dispatch weight and high-priority grant (the defaults for an owner never set)', {
      requestParams: { path: owner },
      responses: { '200': json('The policy', OwnerPolicySchema, example), ...errors('400') },
    }, admin),
    put: op('admin', 'setOwnerPolicy', 'Set an owner’s dispatch weight (integer 1 to 100) and/or high-priority grant; fields left out keep their value; audited', {
      description: 'Applies at once on the gateway that takes it and within 10 s on the others (they remember a grant that long).',
      requestParams: { path: owner },
      requestBody: { required: true, content: { 'application/json': { schema: OwnerPolicyBodySchema, example: { weight: 3, priorityHigh: true } } } },
      responses: { '200': json('The policy as set', OwnerPolicySchema, example), ...errors('400', '413', '415') },
    }, admin),
  },
};
