import { Initial1764000000000 } from './1764000000000-initial.js';
import { WorkflowControls1764100000000 } from './1764100000000-workflow-controls.js';
import { IdempotencyKeys1764200000000 } from './1764200000000-idempotency-keys.js';
import { ApiKeys1764300000000 } from './1764300000000-api-keys.js';
import { DeadLetters1764400000000 } from './1764400000000-dead-letters.js';
import { LlmCalls1764650000000 } from './1764650000000-llm-calls.js';
import { OperatorTools1764870000000 } from './1764870000000-operator-tools.js';
import { Maintenance1764900000000 } from './1764900000000-maintenance.js';
import { WorkflowEngine1765100000000 } from './1765100000000-workflow-engine.js';
import { MaintenanceIntervals1765200000000 } from './1765200000000-maintenance-intervals.js';
import { AdminControls1765300000583 } from './1765300000583-admin-controls.js';
import { Webhooks1765350000417 } from './1765350000417-webhooks.js';
import { Outbox1765400000868 } from './1765400000868-outbox.js';
import { OwnerPolicies1765450000000 } from './1765450000000-owner-policies.js';
import { Schedules1765500000000 } from './1765500000000-schedules.js';
import { TaskCallbacks1765550000000 } from './1765550000000-task-callbacks.js';
import { FairDispatch1765600000000 } from './1765600000000-fair-dispatch.js';
import { OutboxEvents1765650000000 } from './1765650000000-outbox-events.js';
import { AdminBulkTasks1765750000000 } from './1765750000000-admin-bulk-tasks.js';

/** Every migration, oldest first. A new one is a `<timestamp>-<name>.ts` file added here. */
export const MIGRATIONS = [
  Initial1764000000000,
  WorkflowControls1764100000000,
  IdempotencyKeys1764200000000,
  ApiKeys1764300000000,
  DeadLetters1764400000000,
  LlmCalls1764650000000,
  OperatorTools1764870000000,
  Maintenance1764900000000,
  WorkflowEngine1765100000000,
  MaintenanceIntervals1765200000000,
  AdminControls1765300000583,
  Webhooks1765350000417,
  Outbox1765400000868,
  OwnerPolicies1765450000000,
  Schedules1765500000000,
  TaskCallbacks1765550000000,
  FairDispatch1765600000000,
  OutboxEvents1765650000000,
  AdminBulkTasks1765750000000,
];
