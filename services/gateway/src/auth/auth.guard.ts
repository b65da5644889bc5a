import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ForbiddenError, UnauthenticatedError } from '@roadmap/contracts';
import { PUBLIC_ROUTE } from '@roadmap/runtime';
import type { FastifyRequest } from 'fastify';
import { API_KEY_PREFIX, ApiKeys } from './api-keys.js';
import { JwtVerifier } from './jwt.js';
import type { AuthenticatedRequest, Principal } from './principal.js';

/** Routes under this path need the admin role (403 for others). */
export const ADMIN_PATH = '/api/v1/admin';

/**
 * The gateway's global guard: every route needs a credential unless it is marked @Public() (health,
 * readiness, metrics; /docs is served outside Nest's router). The credential is an API key
 * (`Authorization: Bearer rk_…` or `X-Api-Key`) or a bearer JWT; a missing, unknown, revoked,
 * expired or forged one is a 401 with `WWW-Authenticate: Bearer`. Admin routes need the admin role.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    @Inject(Reflector) private readonly reflector: Reflector,
    @Inject(ApiKeys) private readonly apiKeys: ApiKeys,
    @Inject(JwtVerifier) private readonly jwt: JwtVerifier,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    // Only HTTP is guarded: the JetStream transport (workers) has no callers to authenticate.
    if (context.getType() !== 'http') return true;
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, [context.getHandler(), context.getClass()])) return true;
    const request = context.switchToHttp().getRequest<FastifyRequest & AuthenticatedRequest>();
    const principal = await this.authenticate(request);
    request.principal = principal;
    const route = request.routeOptions?.url ?? request.url;
    if ((route === ADMIN_PATH || route.startsWith(`${ADMIN_PATH}/`)) && principal.role !== 'admin') {
      throw new ForbiddenError('This route needs the admin role');
    }
    return true;
  }

  private async authenticate(request: FastifyRequest): Promise<Principal> {
    const authorization = header(request, 'authorization');
    const apiKeyHeader = header(request, 'x-api-key');
    if (authorization !== undefined) {
      const match = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization);
      if (!match) throw new UnauthenticatedError('Authorization must be "Bearer <API key or JWT>"');
      const token = match[1]!;
      return token.startsWith(API_KEY_PREFIX) ? this.byApiKey(token) : this.byJwt(token);
    }
    if (apiKeyHeader !== undefined) return this.byApiKey(apiKeyHeader.trim());
    throw new UnauthenticatedError();
  }

  private async byApiKey(key: string): Promise<Principal> {
    const found = await this.apiKeys.verify(key);
    if (!found) throw new UnauthenticatedError('The API key is unknown or revoked');
    return { owner: found.owner, role: found.role, credential: `api-key:${found.id}`, priorityHigh: found.priorityHigh };
  }

  private async byJwt(token: string): Promise<Principal> {
    if (!this.jwt.enabled) throw new UnauthenticatedError('JWTs are not accepted here (no AUTH_JWT_SECRET or AUTH_JWKS_URL); use an API key');
    const { owner, role } = await this.jwt.verify(token);
    return { owner, role, credential: 'jwt' };
  }
}

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
