import { env } from '@roadmap/contracts';
import { z } from 'zod';
import type { FairDispatchOptions } from './fair-dispatcher.js';

/**
 * Fair dispatch settings (every process that holds or releases work: the gateway and both workers).
 * A plain object schema, merged into each service's (`.extend(DispatchEnvSchema.shape)`).
 */
export const DispatchEnvSchema = z.object({
  /**
   * Workflow starts (a task's first command: its design phase) one owner may have in flight per
   * priority, times its `owner_policies.weight`; the rest wait in PostgreSQL. Half the workflow
   * slots of the default deployment (one worker x 4), as LLM_OWNER_CONCURRENCY is half the content
   * slots: one owner's flood leaves the other half free for everyone else's starts. 0: no limit.
   */
  DISPATCH_WORKFLOW_WINDOW: env.int(2, 0, 100_000),
  /**
   * Content items one owner may have in flight per priority, times its weight. Keep it at
   * LLM_OWNER_CONCURRENCY (16): more would only hold worker slots waiting for the owner's LLM slots,
   * fewer would leave the owner's LLM share unused. 0: no limit.
   */
  DISPATCH_CONTENT_WINDOW: env.int(16, 0, 100_000),
  /** How often the workflow worker releases held work whose release no event triggered (a cancel, a crash) and refreshes the held gauges (ms). */
  DISPATCH_SWEEP_MS: env.int(1_000, 50, 600_000),
  /**
   * The least time between two releases of one lane and priority asked for by one process (ms). A
   * lone admission or finish is released at once; under a stream of them, one release per interval
   * takes what fits for all (one per request would cost a transaction per admission batch). 0: a
   * release per request, coalesced only while one runs.
   */
  DISPATCH_RELEASE_INTERVAL_MS: env.int(20, 0, 10_000),
});

/** The dispatcher's options from the validated config; `sweep` only where the periodic pass should run. */
export function dispatchOptions(config: z.infer<typeof DispatchEnvSchema>, sweep = false): FairDispatchOptions {
  return {
    windows: { workflow: config.DISPATCH_WORKFLOW_WINDOW, content: config.DISPATCH_CONTENT_WINDOW },
    sweepMs: sweep ? config.DISPATCH_SWEEP_MS : 0,
    releaseIntervalMs: config.DISPATCH_RELEASE_INTERVAL_MS,
  };
}
