/** Injection token for the workflow's tunables (from configuration). */
export const WORKFLOW_OPTIONS = Symbol('WORKFLOW_OPTIONS');

export interface WorkflowOptions {
  /** Edit -> validate rounds before an invalid framework fails the task. */
  readonly maxEditRounds: number;
}
