import { z } from 'zod';
import type { ZodOpenApiPathsObject } from 'zod-openapi';
import { AuditQuerySchema, ConcurrencyBodySchema, PauseBodySchema, PurgeBodySchema } from '../admin/admin-control.controller.js';
import { DeadLetterBulkSchema, TaskBulkSchema } from '../admin/bulk-filters.js';
import { JobsQuerySchema } from '../admin/bulk.controller.js';
import { FeedQuerySchema, SearchQuerySchema } from '../admin/insight.controller.js';
import * as c from './admin-control-schemas.js';
import * as ex from './admin-control-examples.js';
import { errors, json, op } from './operations.js';

/*
 * The admin controls (issue 20): queue pause, resume and purge, worker drain and concurrency,
 * `inspect` views, bulk actions and their jobs, search across owners, the live feed and the audit.
 * Request schemas are the ones the controllers validate with.
 */

const admin = { admin: true };
const stream = z.object({ stream: z.string().meta({ description: 'A queue (stream): ROADMAP_WORKFLOW, CONTENT_GENERATION, LOGS, …', example: 'CONTENT_GENERATION' }) });
const workerId = z.object({ id: z.uuid().meta({ description: 'A worker id from GET /api/v1/admin/workers' }) });
const jobId = z.object({ id: z.uuid().meta({ description: 'A job id from a bulk action' }) });
const consumer = z.object({ consumer: z.string().meta({ example: 'content-worker-normal' }) });
/** The pause and purge bodies may be left out (`{}`). */
const optional = (schema: z.ZodType, example: unknown) => ({ required: false, content: { 'application/json': { schema, example } } });
const required = (schema: z.ZodType, example: unknown) => ({ required: true, content: { 'application/json': { schema, example } } });

const pauseOrResume = (verb: 'pause' | 'resume') =>
  op('admin', verb === 'pause' ? 'pauseQueue' : 'resumeQueue', verb === 'pause'
    ? "Pause a queue's consumers (one priority, or all): workers stop pulling and finish what they hold; durable until resumed"
    : "Resume a paused queue's consumers (one priority, or all)", {
    requestParams: { path: stream },
    requestBody: optional(PauseBodySchema, { priority: 'low' }),
    responses: { '200': json('The queue’s consumers and their pause state', c.QueuePauseSchema, verb === 'pause' ? ex.pauseExample : ex.resumeExample), ...errors('400', '404', '413', '415') },
  }, admin);

export const adminControlPaths: ZodOpenApiPathsObject = {
  '/api/v1/admin/queues/{stream}/pause': { post: pauseOrResume('pause') },
  '/api/v1/admin/queues/{stream}/resume': { post: pauseOrResume('resume') },
  '/api/v1/admin/queues/{stream}/purge': {
    post: op('admin', 'purgeQueue', "Drop a queue's messages: dryRun counts them and their tasks; the real run needs confirm: true and cancels those tasks (code PURGED)", {
      requestParams: { path: stream },
      requestBody: optional(PurgeBodySchema, { dryRun: true }),
      responses: { '200': json('A dry run, or the purge done', c.QueuePurgeSchema, ex.purgeDryRunExample), ...errors('400', '404', '413', '415') },
    }, admin),
  },
  '/api/v1/admin/workers/{id}/drain': {
    post: op('admin', 'drainWorker', 'Drain a worker process: it stops pulling, finishes its in-flight work and exits 0 (Kubernetes replaces it)', {
      requestParams: { path: workerId },
      responses: { '202': json('The worker is draining', c.WorkerDrainSchema, ex.drainExample), ...errors('400', '404', '413', '415') },
    }, admin),
  },
  '/api/v1/admin/consumers/{consumer}/concurrency': {
    put: op('admin', 'setConsumerConcurrency', "Change a consumer's handler slots at runtime on every worker or one (workerId); null goes back to the configured value", {
      requestParams: { path: consumer },
      requestBody: required(ConcurrencyBodySchema, { concurrency: 8 }),
      responses: { '200': json('The slots set', c.ConcurrencySchema, ex.concurrencyExample), ...errors('400', '404', '413', '415') },
    }, admin),
  },
  '/api/v1/admin/workers/active': {
    get: op('admin', 'inspectActiveWorkers', 'inspect active: what each worker runs now, since when, and for which task', {
      responses: { '200': json('What each worker runs', c.WorkersActiveSchema, ex.activeExample) },
    }, admin),
  },
  '/api/v1/admin/workers/registered': {
    get: op('admin', 'inspectRegisteredWorkers', 'inspect registered: the consumers each worker serves (subject, slots, paused) and its workflow types, with its version', {
      responses: { '200': json('What each worker serves', c.WorkersRegisteredSchema, ex.registeredExample) },
    }, admin),
  },
  '/api/v1/admin/workers/stats': {
    get: op('admin', 'inspectWorkerStats', 'inspect stats: handled, failed, retried, memory, event-loop lag and uptime per worker', {
      responses: { '200': json('Each worker’s figures', c.WorkersStatsSchema, ex.statsExample) },
    }, admin),
  },
  '/api/v1/admin/tasks/bulk': {
    post: op('admin', 'bulkTasks', 'Cancel, resume or retry the failed items of the tasks a filter matches: dryRun counts them and shows a sample; the real run (202) is an admin.bulk task (taskId) over at most 10,000', {
      requestBody: required(TaskBulkSchema, { action: 'cancel', filter: { owner: 'alice', status: ['queued', 'running'] }, dryRun: true }),
      responses: {
        '200': json('The dry run', c.BulkDryRunSchema, ex.bulkDryRunExample),
        '202': json('The job started (or the same request’s job: repeated)', c.BulkJobStartedSchema, ex.bulkJobStartedExample),
        ...errors('400', '404', '413', '415'),
      },
    }, admin),
  },
  '/api/v1/admin/dead-letters/bulk': {
    post: op('admin', 'bulkDeadLetters', 'Replay or discard the dead letters a filter matches: dryRun counts them and shows a sample; the real run (202) is an admin.bulk task (taskId) over at most 10,000', {
      requestBody: required(DeadLetterBulkSchema, { action: 'replay', filter: { stream: 'CONTENT_GENERATION', reason: 'max_deliver' }, dryRun: true }),
      responses: {
        '200': json('The dry run', c.BulkDryRunSchema, { ...ex.bulkDryRunExample, action: 'dead-letters.replay' }),
        '202': json('The job started (or the same request’s job: repeated)', c.BulkJobStartedSchema, { ...ex.bulkJobStartedExample, action: 'dead-letters.replay' }),
        ...errors('400', '404', '413', '415'),
      },
    }, admin),
  },
  '/api/v1/admin/jobs': {
    get: op('admin', 'listBulkJobs', 'Bulk-action jobs, newest first, with their progress', {
      requestParams: { query: JobsQuerySchema },
      responses: { '200': json('The jobs', c.BulkJobListSchema, { items: [ex.bulkJobExample] }), ...errors('400') },
    }, admin),
  },
  '/api/v1/admin/jobs/{id}': {
    get: op('admin', 'getBulkJob', 'One bulk-action job: status, total, done, failed, skipped, and the first errors', {
      requestParams: { path: jobId },
      responses: { '200': json('The job', c.BulkJobSchema, ex.bulkJobExample), ...errors('400', '404') },
    }, admin),
  },
  '/api/v1/admin/tasks/search': {
    get: op('admin', 'searchTasks', 'Search tasks across owners: goal words (prefixes) or an id prefix in q, owner, type, status, error code; newest first', {
      requestParams: { query: SearchQuerySchema },
      responses: { '200': json('A page of tasks', c.TaskSearchPageSchema, ex.searchExample), ...errors('400') },
    }, admin),
  },
  '/api/v1/admin/events': {
    get: op('admin', 'streamAdminEvents', 'Live feed of every task’s events (Server-Sent Events) from now, filterable by type, owner and level; each event carries owner and level', {
      description: `Server-Sent Events like GET /api/v1/tasks/{id}/events, for every task: \`id:\`, \`event: <type>\`, \`data: <FeedEvent JSON>\`; reconnect with Last-Event-ID.\n\n\`\`\`text\n${ex.feedSseExample}\`\`\``,
      requestParams: {
        query: FeedQuerySchema,
        header: z.object({ 'Last-Event-ID': z.string().max(20).optional().meta({ description: 'Resume after this event id' }) }),
      },
      responses: {
        '200': { description: 'The event stream; each `data:` is one FeedEvent', content: { 'text/event-stream': { schema: c.FeedEventSchema } } },
        ...errors('400'),
      },
    }, admin),
  },
  '/api/v1/admin/audit': {
    get: op('admin', 'listAudit', 'Admin actions, newest first: who, what, target, parameters, outcome, when (cursor paging)', {
      requestParams: { query: AuditQuerySchema },
      responses: { '200': json('A page of admin actions', c.AuditPageSchema, ex.auditExample), ...errors('400') },
    }, admin),
  },
};
