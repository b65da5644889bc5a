import { RateLimitedError, ValidationError } from '@roadmap/contracts';
import { z } from 'zod';
import type { RateLimiter } from '../auth/rate-limiter.js';

export const IdempotencyKeySchema = z
  .string()
  .regex(/^[\x21-\x7e]{1,200}$/)
  .optional();

/**
 * What every task-creating request goes through before its body is looked at: the owner's
 * creation rate across the gateway replicas (429 with Retry-After) and its Idempotency-Key (1 to
 * 200 visible ASCII characters).
 * Returns the key, if any.
 */
export async function admitRequest(rateLimiter: RateLimiter, owner: string, idempotencyKey: string | undefined): Promise<string | undefined> {
  const waitMs = await rateLimiter.take(owner);
  if (waitMs > 0) throw new RateLimitedError('Too many tasks created by this caller; retry after Retry-After', waitMs);
  const key = IdempotencyKeySchema.safeParse(idempotencyKey);
  if (!key.success) {
    throw new ValidationError('Idempotency-Key must be 1 to 200 visible ASCII characters', [{ field: 'Idempotency-Key', message: 'invalid' }]);
  }
  return key.data;
}
