import { CommonEnvSchema, env, loadConfig, refineTimeLimits, timeLimitEnv } from '@roadmap/contracts';
import { LlmEnvSchema, refineLlmEnv } from '@roadmap/llm';
import { LlmUsageEnvSchema } from '@roadmap/runtime';
import { DispatchEnvSchema, TaskDeadlinesSchema, WorkflowTypesEnvSchema } from '@roadmap/workflow';
import { z } from 'zod';
import { MAINTENANCE_ENV } from './maintenance/maintenance.config.js';

export const WorkflowWorkerEnvSchema = CommonEnvSchema.extend(LlmEnvSchema.shape).extend(LlmUsageEnvSchema.shape).extend(WorkflowTypesEnvSchema.shape).extend(DispatchEnvSchema.shape).extend({
  /** Health and metrics port. */
  PORT: env.int(3001, 0, 65535),
  /** Workflows run at once by one process (each mostly waits on the LLM). */
  WORKER_CONCURRENCY: env.int(4, 1, 256),
  /** Edit -> validate rounds before an invalid framework fails the task. */
  WORKFLOW_MAX_EDIT_ROUNDS: env.int(2, 0, 10),
  /**
   * One workflow run (a delivery of a workflow command): at the soft limit its LLM call is aborted
   * and the run stops (it resumes from its checkpoints on the next delivery); at the hard limit a run
   * that did not stop is given up and its message dead-lettered.
   */
  ...timeLimitEnv('WORKFLOW', 20 * 60_000, 25 * 60_000),
  /**
   * A whole task's soft and hard deadlines per type, as JSON, overriding the definitions' defaults
   * (roadmap.generate: 25 and 30 minutes), e.g. {"roadmap.generate":{"softMs":1500000,"hardMs":1800000}}.
   */
  TASK_DEADLINES: z
    .string()
    .trim()
    .default('{}')
    .transform((v, ctx) => {
      try {
        return TaskDeadlinesSchema.parse(JSON.parse(v));
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: `must be JSON like {"roadmap.generate":{"softMs":1500000,"hardMs":1800000}}: ${(error as Error).message}` });
        return z.NEVER;
      }
    }),
  /** How often the worker looks for tasks past their deadlines (ms). */
  DEADLINE_SWEEP_MS: env.int(5_000, 100, 600_000),
  ...MAINTENANCE_ENV,
})
  .superRefine(refineLlmEnv)
  .superRefine(refineTimeLimits('WORKFLOW'));
export type WorkflowWorkerConfig = Readonly<ReturnType<typeof WorkflowWorkerEnvSchema.parse>>;

export const loadWorkflowWorkerConfig = (): WorkflowWorkerConfig => loadConfig(WorkflowWorkerEnvSchema);
