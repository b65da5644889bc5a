import { z } from 'zod';
import type { ZodOpenApiPathsObject } from 'zod-openapi';
import { ListQuerySchema as DeadLettersQuerySchema } from '../admin/dead-letters.controller.js';
import { StatsQuerySchema, TasksQuerySchema } from '../console/console.controller.js';
import { ListQuerySchema as MaintenanceQuerySchema } from '../maintenance/maintenance.controller.js';
import * as a from './admin-schemas.js';
import { errors, json, op } from './operations.js';

/*
 * The operators' endpoints (admin role) and the console's read models. The probes (/healthz, /readyz,
 * /metrics) are left out: they are for the cluster, not for clients.
 */

const id = z.object({ id: z.uuid() });
const admin = { admin: true };

export const adminPaths: ZodOpenApiPathsObject = {
  '/api/v1/admin/whoami': {
    get: op('admin', 'whoami', 'The calling admin: owner and role (403 for a non-admin caller)', { responses: { '200': json('The caller', a.WhoamiSchema, { owner: 'ops', role: 'admin' }) } }, admin),
  },
  '/api/v1/admin/queues': {
    get: op('admin', 'listQueues', 'Per stream: messages and bytes; per consumer: pending, ack pending, redelivered, waiting pulls, last activity, acks per second', {
      responses: { '200': json('Streams and their consumers, read live from JetStream', a.QueuesSchema) },
    }, admin),
  },
  '/api/v1/admin/workers': {
    get: op('admin', 'listWorkers', 'Every service process (worker registry): its consumers, in flight, handled counts, host, pid, version, last heartbeat', {
      responses: { '200': json('The processes', a.WorkersSchema) },
    }, admin),
  },
  '/api/v1/admin/dead-letters': {
    get: op('admin', 'listDeadLetters', 'Dead letters, newest first: stream, subject, reason, deliveries, task (discarded ones only with state=discarded|all)', {
      requestParams: { query: DeadLettersQuerySchema },
      responses: { '200': json('The dead letters', a.DeadLetterListSchema), ...errors('400') },
    }, admin),
  },
  '/api/v1/admin/dead-letters/{id}': {
    get: op('admin', 'getDeadLetter', 'One dead letter with its headers and raw payload', {
      requestParams: { path: id },
      responses: { '200': json('The dead letter', a.DeadLetterDetailSchema), ...errors('400', '404') },
    }, admin),
  },
  '/api/v1/admin/dead-letters/{id}/replay': {
    post: op('admin', 'replayDeadLetter', 'Put a dead letter back on its original subject (409 once discarded)', {
      requestParams: { path: id },
      responses: { '202': json('Replayed', a.DeadLetterActionSchema), ...errors('400', '404', '409', '413', '415') },
    }, admin),
  },
  '/api/v1/admin/dead-letters/{id}/discard': {
    post: op('admin', 'discardDeadLetter', 'Discard a dead letter: kept for audit, left out of the default list, no longer replayable', {
      requestParams: { path: id },
      responses: { '200': json('Discarded', a.DeadLetterActionSchema), ...errors('400', '404', '409', '413', '415') },
    }, admin),
  },
  '/api/v1/admin/maintenance': {
    get: op('admin', 'listMaintenance', 'Scheduled maintenance jobs with their recent runs (newest first): outcome, duration, rows, instance', {
      requestParams: { query: MaintenanceQuerySchema },
      responses: { '200': json('The jobs and their runs', a.MaintenanceSchema), ...errors('400', '404') },
    }, admin),
  },
  '/api/v1/console/task-stats': {
    get: op('console', 'getTaskStats', 'Tasks created in the last `minutes` (60), counted by status, overall and per 5-minute bucket', {
      requestParams: { query: StatsQuerySchema },
      responses: { '200': json('The counts', a.TaskStatsSchema), ...errors('400') },
    }),
  },
  '/api/v1/console/tasks': {
    get: op('console', 'listConsoleTasks', 'Tasks newest first with their goal, filtered by status and a search (goal words, or the start of a task or roadmap id)', {
      requestParams: { query: TasksQuerySchema },
      responses: { '200': json('A page of tasks with their goal', a.ConsoleTaskPageSchema), ...errors('400') },
    }),
  },
};
