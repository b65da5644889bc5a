import { RequestError, TimeoutError } from '@nats-io/nats-core';

/**
 * How long an operation keeps being retried while JetStream has no leader for its stream. In a
 * cluster, when the server leading a stream (or a KV bucket's stream) dies, the other replicas take
 * a few seconds to notice and elect a new leader; meanwhile requests to the stream get "no
 * responders" (or time out). Retrying inside that window keeps a failover from costing a message one
 * of its bounded deliveries, or a caller a 503.
 */
export const ELECTION_BUDGET_MS = 10_000;

/** Whether nobody answered a JetStream request (an election in progress, or no stream at all). */
export function isNoResponders(err: unknown): boolean {
  for (let e = err; e instanceof Error; e = e.cause) {
    if (e instanceof RequestError && e.isNoResponders()) return true;
    if (e.name === 'NoResponders') return true;
  }
  return false;
}

function isTimeout(err: unknown): boolean {
  for (let e = err; e instanceof Error; e = e.cause) if (e instanceof TimeoutError) return true;
  return false;
}

/**
 * Runs `op`, retrying with backoff (100 ms doubling to 2 s) for up to `budgetMs` while it fails with
 * "no responders", or with a timeout while `connected()` says the connection is up (so a server that
 * is simply gone still fails fast). Only for operations that are safe to repeat: publishes with a
 * message id (deduplicated), reads, and compare-and-set writes (a repeat of one that landed is a
 * conflict the caller already handles).
 */
export async function retryWhileElecting<T>(op: () => Promise<T>, connected: () => boolean, budgetMs = ELECTION_BUDGET_MS): Promise<T> {
  const deadline = Date.now() + budgetMs;
  let delay = 100;
  for (;;) {
    try {
      return await op();
    } catch (err) {
      const transient = isNoResponders(err) || (connected() && isTimeout(err));
      if (!transient || Date.now() + delay > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 2_000);
    }
  }
}
