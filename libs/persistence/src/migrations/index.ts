import { Initial1764000000000 } from './1764000000000-initial.js';
import { WorkflowControls1764100000000 } from './1764100000000-workflow-controls.js';

/** Every migration, oldest first. A new one is a `<timestamp>-<name>.ts` file added here. */
export const MIGRATIONS = [Initial1764000000000, WorkflowControls1764100000000];
