/* Examples of the admin controls' answers (issue 20), as the gateway sends them. */

const at = '2026-12-07T14:00:00.000Z';
const taskId = '0193a1c2-7d4e-7a10-9c3b-5e8f2a6b1c01';
const workerId = '0193a1c2-7d4e-7a10-9c3b-5e8f2a6b1c02';
const jobId = '0193a1c2-7d4e-7a10-9c3b-5e8f2a6b1c03';
const worker = {
  id: workerId,
  service: 'content-worker',
  instance: 'content-worker-7c9f5-abcde:1',
  host: 'content-worker-7c9f5-abcde',
  pid: 1,
  version: '1.4.0',
  status: 'alive',
  startedAt: at,
  lastHeartbeatAt: at,
  heartbeatIntervalMs: 5000,
};

export const pauseExample = {
  stream: 'CONTENT_GENERATION',
  priority: 'low',
  consumers: [{ consumer: 'content-worker-low', stream: 'CONTENT_GENERATION', paused: true, pausedBy: 'ops', pausedAt: at }],
};
export const resumeExample = { ...pauseExample, consumers: [{ consumer: 'content-worker-low', stream: 'CONTENT_GENERATION', paused: false, pausedBy: null, pausedAt: null }] };
export const purgeDryRunExample = { stream: 'CONTENT_GENERATION', priority: null, messages: 108, tasks: 3, dryRun: true, sample: [taskId] };
export const drainExample = { workerId, service: worker.service, instance: worker.instance, draining: true, requestedBy: 'ops', requestedAt: at };
export const concurrencyExample = { consumer: 'content-worker-normal', concurrency: 8, workerId: null, scope: 'all', setBy: 'ops', setAt: at };
export const activeExample = {
  items: [{ ...worker, active: [{ consumer: 'content-worker-normal', subject: 'content.generate.normal', streamSequence: 4211, deliveryCount: 1, startedAt: at, taskId }] }],
};
export const registeredExample = {
  items: [
    {
      ...worker,
      handlers: [{ consumer: 'content-worker-normal', stream: 'CONTENT_GENERATION', filterSubject: 'content.generate.normal', concurrency: 16, configuredConcurrency: 16, paused: null }],
      workflows: [],
    },
  ],
};
export const statsExample = {
  items: [{ ...worker, handled: 1520, failed: 2, retried: 14, process: { rssBytes: 123_456_789, heapUsedBytes: 45_678_901, eventLoopLagMs: { mean: 10.2, p99: 14.1, max: 21.7 }, uptimeSeconds: 86_400 } }],
};
export const bulkDryRunExample = { action: 'tasks.cancel', dryRun: true, matched: 5000, willActOn: 5000, cap: 10_000, sample: [taskId] };
export const bulkJobExample = {
  jobId,
  taskId: jobId,
  action: 'tasks.cancel',
  actor: 'ops',
  status: 'running',
  matched: 5000,
  total: 5000,
  done: 1200,
  failed: 0,
  skipped: 3,
  errors: [],
  error: null,
  createdAt: at,
  updatedAt: at,
  finishedAt: null,
  links: { self: `/api/v1/admin/jobs/${jobId}`, task: `/api/v1/tasks/${jobId}` },
};
export const bulkJobStartedExample = { ...bulkJobExample, done: 0, skipped: 0, repeated: false };
export const searchExample = {
  items: [{ id: taskId, type: 'roadmap.generate', status: 'failed', owner: 'alice', priority: 'normal', goal: 'Learn Kubernetes', errorCode: 'ITEMS_FAILED', createdAt: at, updatedAt: at }],
  nextCursor: null,
};
export const auditExample = {
  items: [{ id: '42', at, actor: 'ops', action: 'queue.pause', target: 'CONTENT_GENERATION', params: { priority: 'low' }, outcome: 'ok', result: { stream: 'CONTENT_GENERATION', priority: 'low' } }],
  nextCursor: null,
};
export const feedSseExample = [
  'retry: 2000',
  '',
  'id: 912',
  'event: task.failed',
  `data: {"type":"task.failed","taskId":"${taskId}","at":"${at}","error":{"code":"ITEMS_FAILED","message":"2 items failed"},"owner":"alice","level":"error"}`,
  '',
  '',
].join('\n');
