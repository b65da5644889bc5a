import { CreateRoadmapRequestSchema, RetryItemsRequestSchema, ReviewRequestSchema } from '@roadmap/contracts';
import { z } from 'zod';
import type { ZodOpenApiPathsObject } from 'zod-openapi';
import { IdempotencyKeySchema } from '../tasks/admission.js';
import {
  ListQuerySchema,
  LlmCallsQuerySchema,
  LogsQuerySchema,
  UsageQuerySchema,
} from '../tasks/tasks.controller.js';
import * as ex from './examples.js';
import { body, errors, json, op, priorityNotAllowed } from './operations.js';
import * as s from './schemas.js';

/* The public operations: roadmaps, tasks (with the event stream) and usage. */

const id = z.object({ id: z.uuid().meta({ description: 'The task’s id', example: ex.taskDetailExample.id }) });
const roadmapId = z.object({ id: z.uuid().meta({ description: 'The roadmap’s id', example: ex.roadmapExample.id }) });
const taskAndCall = z.object({ id: z.uuid(), callId: z.uuid() });

const sseDescription = [
  'Server-Sent Events: a `retry:` hint, then each progress event as `id: <sequence>`, `event: <type>` and `data: <TaskEvent JSON>`;',
  'comments `: keep-alive` keep idle connections open. Reconnect with `Last-Event-ID` (EventSource does) to resume after the last event seen.',
  'The stream ends after the final event (`task.completed`, `task.failed`, `task.cancelled`) once the task is over.',
  'Event names (the `type` of the payload): step.started, step.completed, content.started, item.completed, item.failed, item.retrying,',
  'item.partial, review.awaiting, review.submitted, task.resumed, task.completed, task.failed, task.cancelled.',
].join(' ');

export const publicPaths: ZodOpenApiPathsObject = {
  '/api/v1/roadmaps': {
    post: op('roadmaps', 'createRoadmap', 'Accept a learning goal; the roadmap is generated in the background', {
      description: 'Answers 202 at once with the task to follow. The same Idempotency-Key within 24 h returns the first task (Idempotent-Replayed: true).',
      requestParams: { header: z.object({ 'Idempotency-Key': IdempotencyKeySchema.meta({ description: '1 to 200 visible ASCII characters', example: 'order-4711' }) }) },
      requestBody: body(CreateRoadmapRequestSchema, ex.createRoadmapExample),
      responses: {
        '202': {
          ...json('Accepted: the task, the roadmap and where to follow them', s.RoadmapAcceptedSchema, ex.roadmapAcceptedExample),
          headers: { 'Idempotent-Replayed': { description: '`true` when an earlier request with the same Idempotency-Key is answered again', schema: { type: 'string', enum: ['true'] } } },
        },
        ...errors('400', '413', '415', '422', '429'),
        ...priorityNotAllowed,
      },
    }),
  },
  '/api/v1/roadmaps/{id}': {
    get: op('roadmaps', 'getRoadmap', 'The roadmap: framework, stages, concepts and each concept’s tutorial, resources and quiz', {
      requestParams: { path: roadmapId },
      responses: { '200': json('The roadmap', s.RoadmapSchema, ex.roadmapExample), ...errors('400', '404') },
    }),
  },
  '/api/v1/roadmaps/{id}/revisions': {
    get: op('roadmaps', 'getRoadmapRevisions', 'Every framework version: who asked for what change, when, and what it changed', {
      requestParams: { path: roadmapId },
      responses: { '200': json('The revisions, oldest first', s.RevisionsSchema), ...errors('400', '404') },
    }),
  },
  '/api/v1/roadmaps/{id}/review': {
    post: op('roadmaps', 'reviewRoadmap', 'Approve the framework (content generation starts) or ask for a revision with feedback', {
      requestParams: { path: roadmapId },
      requestBody: body(ReviewRequestSchema, ex.reviewExample),
      responses: { '202': json('Accepted: the workflow goes on', s.ReviewAcceptedSchema, ex.reviewAcceptedExample), ...errors('400', '404', '409', '413', '415') },
    }),
  },
  '/api/v1/roadmaps/{id}/concepts/{conceptId}/retry': {
    post: op('roadmaps', 'retryConceptItems', 'Regenerate some of a concept’s items (tutorial, resources, quiz)', {
      requestParams: { path: z.object({ id: z.uuid(), conceptId: z.uuid() }) },
      requestBody: body(RetryItemsRequestSchema, ex.retryExample),
      responses: { '202': json('Accepted: the items are queued again', s.RetryAcceptedSchema, ex.retryAcceptedExample), ...errors('400', '404', '409', '413', '415') },
    }),
  },
  '/api/v1/tasks': {
    get: op('tasks', 'listTasks', 'Tasks, newest first, filtered by status, type and creation time, cursor-paginated', {
      requestParams: { query: ListQuerySchema },
      responses: { '200': json('A page of tasks', s.TaskPageSchema, ex.taskPageExample), ...errors('400') },
    }),
  },
  '/api/v1/tasks/{id}': {
    get: op('tasks', 'getTask', 'Status, current step and progress of a task, and per concept the state of each item (the polling view)', {
      requestParams: { path: id },
      responses: { '200': json('The task', s.TaskDetailSchema, ex.taskDetailExample), ...errors('400', '404') },
    }),
  },
  '/api/v1/tasks/{id}/cancel': {
    post: op('tasks', 'cancelTask', 'Cancel a task: in-flight LLM calls are aborted, queued work is skipped; cancelling twice is harmless', {
      requestParams: { path: id },
      responses: { '200': json('The cancelled task', s.TaskDetailSchema, { ...ex.taskDetailExample, status: 'cancelled' }), ...errors('400', '404', '409', '413', '415') },
    }),
  },
  '/api/v1/tasks/{id}/resume': {
    post: op('tasks', 'resumeTask', 'Resume a failed or cancelled task from its last checkpoint (completed items are kept)', {
      requestParams: { path: id },
      responses: { '202': json('Accepted: the task is queued again', s.ResumeAcceptedSchema, ex.resumeAcceptedExample), ...errors('400', '404', '409', '413', '415') },
    }),
  },
  '/api/v1/tasks/{id}/events': {
    get: op('tasks', 'streamTaskEvents', 'Live progress of a task as Server-Sent Events, replayed from its first event or after Last-Event-ID', {
      description: `${sseDescription}\n\n\`\`\`text\n${ex.sseExample}\`\`\``,
      requestParams: {
        path: id,
        header: z.object({ 'Last-Event-ID': z.string().regex(/^\d{1,16}$/).optional().meta({ description: 'Resume after this event id (EventSource sends it on reconnect)' }) }),
        query: z.object({ lastEventId: z.string().regex(/^\d{1,16}$/).optional().meta({ description: 'Same as Last-Event-ID, for clients that cannot set headers' }) }),
      },
      responses: {
        '200': {
          description: 'The event stream; each `data:` is one TaskEvent whose `type` is the `event:` name',
          content: { 'text/event-stream': { schema: s.TaskEventPayloadSchema } },
        },
        '204': { description: 'The task is over and nothing is left after Last-Event-ID: do not reconnect' },
        ...errors('400', '404'),
      },
    }),
  },
  '/api/v1/tasks/{id}/logs': {
    get: op('tasks', 'getTaskLogs', 'Execution logs of a task, oldest first, cursor-paginated', {
      requestParams: { path: id, query: LogsQuerySchema },
      responses: { '200': json('A page of log entries', s.LogPageSchema), ...errors('400', '404') },
    }),
  },
  '/api/v1/tasks/{id}/llm-calls': {
    get: op('tasks', 'listTaskLlmCalls', 'Every LLM call made for a task (one per provider attempt), oldest first; prompts and responses with include=content', {
      requestParams: { path: id, query: LlmCallsQuerySchema },
      responses: { '200': json('A page of LLM calls', s.LlmCallPageSchema), ...errors('400', '404') },
    }),
  },
  '/api/v1/tasks/{id}/llm-calls/{callId}': {
    get: op('tasks', 'getTaskLlmCall', 'One LLM call of a task with its rendered prompt and the raw response', {
      requestParams: { path: taskAndCall },
      responses: { '200': json('The call', s.LlmCallSchema), ...errors('400', '404') },
    }),
  },
  '/api/v1/usage': {
    get: op('usage', 'getUsage', 'The caller’s LLM usage per UTC day (tokens, estimated cost, calls, per model); an admin may ask for another owner’s', {
      requestParams: { query: UsageQuerySchema.in },
      responses: { '200': json('Usage per day', s.UsageSchema), ...errors('400', '403') },
    }),
  },
};
