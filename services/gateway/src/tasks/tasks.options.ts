import type { ReviewMode } from '@roadmap/contracts';
import type { FairDispatchOptions } from '@roadmap/workflow';

/** Injection token for the API's settings that come from configuration. */
export const TASKS_OPTIONS = Symbol('TASKS_OPTIONS');

export interface TasksOptions {
  /** Review mode of a request that does not choose one. */
  readonly reviewDefault: ReviewMode;
  /** WORKFLOW_MODULES: where task types beyond the built-in ones come from. */
  readonly workflowModules?: string;
  /** DISPATCH_*: the windows of the work this gateway holds (new tasks' first commands). */
  readonly dispatch: FairDispatchOptions;
}
