import { Module, type DynamicModule } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { AdminController } from './admin.controller.js';
import { ApiKeys } from './api-keys.js';
import { AuthGuard } from './auth.guard.js';
import { JwtVerifier, type JwtOptions } from './jwt.js';
import { RateLimiter } from './rate-limiter.js';

export interface AuthOptions extends JwtOptions {
  /** Task creations per caller and minute (AUTH_RATE_LIMIT_PER_MINUTE); 0: no limit. */
  readonly createPerMinute: number;
}

/** Authentication (API keys, JWTs), the global guard, and the per-caller rate limit of task creation. */
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
        { provide: RateLimiter, useValue: new RateLimiter(options.createPerMinute) },
        { provide: APP_GUARD, useClass: AuthGuard },
      ],
      exports: [ApiKeys, RateLimiter],
    };
  }
}
