import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { UnauthenticatedError } from '@roadmap/contracts';
import type { Role } from './api-keys.js';

/** Who is calling: the owner its tasks belong to, its role, and how it proved it. */
export interface Principal {
  readonly owner: string;
  readonly role: Role;
  /** `api-key:<id>` or `jwt`: what the rate limit and the logs key on. */
  readonly credential: string;
  /** An API key granted `high` priority on its own (`api_keys.priority_high`); the owner's grant is looked up apart. */
  readonly priorityHigh?: boolean;
}

/** Where the guard leaves the caller on the request. */
export interface AuthenticatedRequest {
  principal?: Principal;
}

/**
 * The owner a lookup is restricted to: the caller's own for a `user`, none (every owner) for an
 * `admin`. Every read and action on tasks and roadmaps goes through it, so another owner's task is
 * a 404, exactly like a task that does not exist.
 */
export type OwnerScope = string | undefined;
export const scopeOf = (principal: Principal): OwnerScope => (principal.role === 'admin' ? undefined : principal.owner);

/** The authenticated caller of an /api route (set by the global AuthGuard). */
export const CurrentPrincipal = createParamDecorator((_data: unknown, context: ExecutionContext): Principal => {
  const principal = context.switchToHttp().getRequest<AuthenticatedRequest>().principal;
  // Only reachable on a route marked @Public(): a programming error, answered as "no credential".
  if (!principal) throw new UnauthenticatedError();
  return principal;
});
