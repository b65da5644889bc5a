import { Module, type DynamicModule } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { UnavailableError } from '@roadmap/contracts';
import { API_RATE_BUCKET, API_RATE_BUCKET_AGE_MS, Messaging, openBucket, type KvStore } from '@roadmap/messaging';
import type { Logger } from '@roadmap/observability';
import { LOGGER } from '@roadmap/runtime';
import { AdminController } from './admin.controller.js';
import { ApiKeys } from './api-keys.js';
import { AuthGuard } from './auth.guard.js';
import { JwtVerifier, type JwtOptions } from './jwt.js';
import { OwnerPolicies } from './owner-policies.js';
import { PriorityPolicy } from './priority-policy.js';
import { RateLimiter } from './rate-limiter.js';

export interface AuthOptions extends JwtOptions {
  /** Task creations per owner and minute across every gateway replica (AUTH_RATE_LIMIT_PER_MINUTE); 0: no limit. */
  readonly createPerMinute: number;
}

/**
 * Authentication (API keys, JWTs), the global guard, the per-owner rate limit of task creation
 * (shared by the replicas through NATS KV) and the policy of who may ask for `high` priority.
 */
@Module({})
export class AuthModule {
  static forRoot(options: AuthOptions): DynamicModule {
    return {
      module: AuthModule,
      global: true,
      controllers: [AdminController],
      providers: [
        ApiKeys,
        { provide: JwtVerifier, useValue: new JwtVerifier(options) },
        OwnerPolicies,
        PriorityPolicy,
        {
          provide: RateLimiter,
          inject: [Messaging, LOGGER],
          useFactory: (messaging: Messaging, logger: Logger) => new RateLimiter(rateBucket(messaging, logger), options.createPerMinute),
        },
        { provide: APP_GUARD, useClass: AuthGuard },
      ],
      exports: [ApiKeys, RateLimiter, OwnerPolicies, PriorityPolicy],
    };
  }
}

/**
 * The API_RATE bucket, opened on first use (provisioning creates it) and again after a failure; a
 * gateway cut off from NATS answers 503 at once rather than waiting on a KV request that cannot go out.
 */
function rateBucket(messaging: Messaging, logger: Logger): () => Promise<KvStore> {
  let opening: Promise<KvStore> | undefined;
  return () => {
    if (!messaging.isConnected()) return Promise.reject(new UnavailableError('NATS is not connected: the shared rate limit cannot be checked'));
    opening ??= openBucket(messaging, API_RATE_BUCKET, { maxAgeMs: API_RATE_BUCKET_AGE_MS, warn: (message) => logger.warn({ bucket: API_RATE_BUCKET }, message) }).catch(
      (error: unknown) => {
        opening = undefined;
        throw new UnavailableError(`Cannot open the KV bucket ${API_RATE_BUCKET} of the API rate limit: ${String(error)}`, 5_000, error);
      },
    );
    return opening;
  };
}
