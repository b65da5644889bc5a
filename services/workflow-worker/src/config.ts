import { CommonEnvSchema, env, loadConfig } from '@roadmap/contracts';
import { LlmEnvSchema, refineLlmEnv } from '@roadmap/llm';

export const WorkflowWorkerEnvSchema = CommonEnvSchema.extend(LlmEnvSchema.shape).extend({
  /** Health and metrics port. */
  PORT: env.int(3001, 0, 65535),
  /** Workflows run at once by one process (each mostly waits on the LLM). */
  WORKER_CONCURRENCY: env.int(4, 1, 256),
  /** Edit -> validate rounds before an invalid framework fails the task. */
  WORKFLOW_MAX_EDIT_ROUNDS: env.int(2, 0, 10),
}).superRefine(refineLlmEnv);
export type WorkflowWorkerConfig = Readonly<ReturnType<typeof WorkflowWorkerEnvSchema.parse>>;

export const loadWorkflowWorkerConfig = (): WorkflowWorkerConfig => loadConfig(WorkflowWorkerEnvSchema);
