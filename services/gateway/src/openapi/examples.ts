/*
 * Examples shown in the OpenAPI document. `redocly lint` checks each against its schema
 * (no-invalid-media-type-examples), so they cannot drift from the shapes they illustrate.
 */

const taskId = '01938d2e-7c4a-7b3e-9f10-2d5a8c0e4b11';
const roadmapId = '01938d2e-7c4a-7b3e-9f10-2d5a8c0e4b12';
const conceptId = '01938d2e-7d00-7a10-8b20-000000000001';
const at = '2026-12-07T10:00:00.000Z';

export const links = {
  status: `/api/v1/tasks/${taskId}`,
  events: `/api/v1/tasks/${taskId}/events`,
  logs: `/api/v1/tasks/${taskId}/logs`,
  llmCalls: `/api/v1/tasks/${taskId}/llm-calls`,
  roadmap: `/api/v1/roadmaps/${roadmapId}`,
  revisions: `/api/v1/roadmaps/${roadmapId}/revisions`,
};

export const createRoadmapExample = {
  goal: 'Become a backend engineer in 6 months',
  preferences: { level: 'beginner', hoursPerWeek: 8, language: 'en' },
  priority: 'normal',
  review: 'skip',
};

export const roadmapAcceptedExample = { taskId, roadmapId, status: 'queued', reviewMode: 'skip', links };

export const taskExample = {
  id: taskId,
  type: 'roadmap.generate',
  status: 'running',
  priority: 'normal',
  reviewMode: 'skip',
  currentStep: 'content_generation',
  progress: { done: 12, failed: 0, total: 36, percent: 33 },
  roadmapId,
  parentId: null,
  error: null,
  attempts: 1,
  workflowVersion: 'roadmap-workflow@1',
  promptSet: null,
  createdAt: at,
  updatedAt: at,
  startedAt: at,
  finishedAt: null,
  cancelledAt: null,
  links,
};

const noUsage = { inputTokens: 0, outputTokens: 0, costUsd: 0, calls: 0 };

export const taskDetailExample = {
  ...taskExample,
  usage: { inputTokens: 5210, outputTokens: 9875, costUsd: 0.00712, calls: 14 },
  concepts: [
    {
      id: conceptId,
      slug: 'http-basics',
      title: 'HTTP basics',
      items: { tutorial: 'completed', resources: 'running', quiz: 'pending' },
      usage: { tutorial: { inputTokens: 410, outputTokens: 820, costUsd: 0.0006, calls: 1 }, resources: noUsage, quiz: noUsage },
    },
  ],
  children: null,
};

export const createTaskExample = { type: 'roadmap.generate', input: { goal: 'Become a backend engineer in 6 months' }, priority: 'normal', review: 'skip' };
export const taskAcceptedExample = { taskId, type: 'roadmap.generate', roadmapId, status: 'queued', reviewMode: 'skip', links };
export const taskResultExample = { taskId, type: 'roadmap.generate', status: 'completed', finishedAt: at, result: { roadmapId, concepts: 12 } };
export const signalExample = { payload: { approved: true } };
export const signalAcceptedExample = { taskId, type: 'demo.wait', status: 'running', signal: 'approval', links };

export const taskPageExample = { items: [taskExample], nextCursor: null };

const pendingItem = { status: 'pending', content: null, error: null, attempts: 0, promptVersion: null };

export const roadmapExample = {
  id: roadmapId,
  taskId,
  status: 'generating',
  goal: 'Become a backend engineer in 6 months',
  preferences: { level: 'beginner', hoursPerWeek: 8, language: 'en' },
  title: 'Backend engineering from zero',
  summary: 'HTTP, databases and services, step by step.',
  intent: null,
  validationIssues: [],
  revision: 1,
  progress: { done: 1, failed: 0, total: 3 },
  stages: [
    {
      id: 'foundations',
      title: 'Foundations',
      goal: 'Speak HTTP',
      weeks: 2,
      concepts: [
        {
          id: conceptId,
          slug: 'http-basics',
          title: 'HTTP basics',
          summary: 'Requests, responses, methods and status codes.',
          estimatedHours: 4,
          prerequisites: [],
          content: {
            tutorial: {
              status: 'completed',
              content: {
                title: 'HTTP basics',
                summary: 'How a browser and a server talk.',
                estimatedMinutes: 30,
                sections: [{ heading: 'Requests', body: 'A request has a method, a path, headers and maybe a body.' }],
                keyTakeaways: ['Status codes say how a request went.'],
              },
              error: null,
              attempts: 1,
              promptVersion: 'tutorial@1',
            },
            resources: pendingItem,
            quiz: pendingItem,
          },
        },
      ],
    },
  ],
  createdAt: at,
  updatedAt: at,
  completedAt: null,
  links,
};

export const reviewExample = { decision: 'revise', feedback: 'Add a stage on databases before services.' };
export const reviewAcceptedExample = { taskId, roadmapId, status: 'running', decision: 'revise', revision: 1, links };
export const retryExample = { kinds: ['quiz'] };
export const retryAcceptedExample = { taskId, roadmapId, conceptId, kinds: ['quiz'], status: 'running', links };
export const resumeAcceptedExample = { taskId, status: 'queued', links };

/** One example error per status, each with the code clients switch on. */
export const errorExamples: Record<string, { code: string; message: string; details?: Array<{ path: string; field: string; message: string }>; requestId: string }> = {
  '400': { code: 'VALIDATION_FAILED', message: 'The request body is invalid: goal: Too small', details: [{ path: 'goal', field: 'goal', message: 'Too small' }], requestId: 'req-1' },
  '401': { code: 'UNAUTHENTICATED', message: 'Send an API key or a JWT: Authorization: Bearer <credential>', requestId: 'req-1' },
  '403': { code: 'FORBIDDEN', message: 'This needs the admin role', requestId: 'req-1' },
  '404': { code: 'NOT_FOUND', message: `Task ${taskId} not found`, requestId: 'req-1' },
  '409': { code: 'CONFLICT', message: 'The task cannot be resumed (only a failed or cancelled task can be)', requestId: 'req-1' },
  '413': { code: 'PAYLOAD_TOO_LARGE', message: 'The request body is larger than the limit', requestId: 'req-1' },
  '415': { code: 'UNSUPPORTED_MEDIA_TYPE', message: 'Send the body as application/json', requestId: 'req-1' },
  '422': { code: 'IDEMPOTENCY_KEY_REUSED', message: 'This Idempotency-Key was used for a different request', requestId: 'req-1' },
  '429': { code: 'RATE_LIMITED', message: 'Too many roadmaps created by this caller; retry after Retry-After', requestId: 'req-1' },
  '503': { code: 'SERVICE_UNAVAILABLE', message: 'The queue is unavailable right now; retry shortly', requestId: 'req-1' },
  priorityNotAllowed: {
    code: 'PRIORITY_NOT_ALLOWED',
    message: 'High priority is granted to admins and to owners or API keys an admin has granted it; ask for normal or low',
    details: [{ path: 'priority', field: 'priority', message: 'high is not granted to this caller' }],
    requestId: 'req-1',
  },
};

export const sseExample = [
  'retry: 2000',
  '',
  'id: 41',
  'event: item.completed',
  `data: {"type":"item.completed","taskId":"${taskId}","at":"${at}","conceptId":"${conceptId}","kind":"tutorial","progress":{"done":12,"failed":0,"total":36}}`,
  '',
  ': keep-alive',
  '',
  'id: 87',
  'event: task.completed',
  `data: {"type":"task.completed","taskId":"${taskId}","at":"${at}","progress":{"done":36,"failed":0,"total":36}}`,
  '',
  '',
].join('\n');
