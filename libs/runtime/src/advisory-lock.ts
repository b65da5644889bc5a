import type { DataSource, QueryRunner } from 'typeorm';

/**
 * A PostgreSQL session-level advisory lock (`pg_try_advisory_lock(hashtext(key))`) held on a pooled
 * connection of its own. PostgreSQL releases it when that session ends, so a holder that dies or
 * loses its connection frees it without any timeout to tune: the basis of the platform's
 * single-runner duties (cluster-wide metrics, scheduled maintenance).
 */
export class AdvisoryLock {
  private released = false;

  private constructor(
    /** The connection holding the lock: it answers `check()`; never hand it to other work. */
    readonly runner: QueryRunner,
    readonly key: string,
  ) {}

  /** The lock when it was free, null when another session holds it. Never waits for it. */
  static async tryAcquire(dataSource: DataSource, key: string, timeoutMs: number): Promise<AdvisoryLock | null> {
    const runner = dataSource.createQueryRunner();
    try {
      await runner.connect();
      const rows = (await withTimeout(runner.query('SELECT pg_try_advisory_lock(hashtext($1)) AS locked', [key]), timeoutMs, 'advisory lock')) as Array<{
        locked: boolean;
      }>;
      if (rows[0]?.locked) return new AdvisoryLock(runner, key);
    } catch (error) {
      // The session may hold the lock after all (the answer timed out): end it rather than pool it.
      await destroy(runner, error instanceof Error ? error : new Error(String(error)));
      throw error;
    }
    await runner.release().catch(() => undefined);
    return null;
  }

  /** Throws when the holding connection no longer answers (the lock is then probably gone). */
  async check(timeoutMs: number): Promise<void> {
    await withTimeout(this.runner.query('SELECT 1'), timeoutMs, 'lock check');
  }

  /**
   * Gives the lock back. With `unlock`, it asks PostgreSQL to release it and returns the connection to
   * the pool; when that fails (or without `unlock`: the connection is suspect), the connection is
   * closed instead, which ends the session and frees the lock: a pooled session never keeps it.
   */
  async release(unlock = true): Promise<void> {
    if (this.released) return;
    this.released = true;
    if (unlock) {
      const unlocked = await withTimeout(this.runner.query('SELECT pg_advisory_unlock(hashtext($1))', [this.key]), 2_000, 'unlock').then(
        () => true,
        () => false,
      );
      if (unlocked) {
        await this.runner.release().catch(() => undefined);
        return;
      }
    }
    await destroy(this.runner, new Error(`advisory lock ${this.key} dropped`));
  }
}

/** Closes a query runner's connection instead of pooling it (TypeORM hands the error to pg-pool's release). */
async function destroy(runner: QueryRunner, reason: Error): Promise<void> {
  const close = (runner as unknown as { releasePostgresConnection?: (err?: Error) => Promise<void> }).releasePostgresConnection;
  if (close) await close.call(runner, reason).catch(() => undefined);
  else await runner.release().catch(() => undefined);
}

/** `promise`, or a rejection naming `what` after `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
