import { CreateTaskRequestSchema, SignalRequestSchema } from '@roadmap/contracts';
import { z } from 'zod';
import type { ZodOpenApiPathsObject } from 'zod-openapi';
import { ResultQuerySchema, SignalNameSchema } from '../tasks/task-api.controller.js';
import { IdempotencyKeySchema } from '../tasks/admission.js';
import * as ex from './examples.js';
import { body, errors, json, op, priorityNotAllowed } from './operations.js';
import * as s from './schemas.js';

/* The unified task API: any registered task type created, followed, signalled and read the same way. */

const id = z.uuid().meta({ description: 'The task’s id', example: ex.taskDetailExample.id });

export const taskApiPaths: ZodOpenApiPathsObject = {
  '/api/v1/tasks': {
    post: op('tasks', 'createTask', 'Accept a task of any registered type; its input is validated against the type’s schema', {
      description:
        'GET /api/v1/task-types lists the types with the JSON Schema of their input. 400 UNKNOWN_TASK_TYPE lists the known types; ' +
        '400 VALIDATION_FAILED names each field at fault (`input.goals.3`). The same Idempotency-Key within 24 h returns the first task.',
      requestParams: { header: z.object({ 'Idempotency-Key': IdempotencyKeySchema.meta({ description: '1 to 200 visible ASCII characters', example: 'order-4711' }) }) },
      requestBody: body(CreateTaskRequestSchema, ex.createTaskExample),
      responses: {
        '202': {
          ...json('Accepted: the task and where to follow it', s.TaskAcceptedSchema, ex.taskAcceptedExample),
          headers: { 'Idempotent-Replayed': { description: '`true` when an earlier request with the same Idempotency-Key is answered again', schema: { type: 'string', enum: ['true'] } } },
        },
        ...errors('400', '413', '415', '422', '429'),
        ...priorityNotAllowed,
      },
    }),
  },
  '/api/v1/task-types': {
    get: op('tasks', 'listTaskTypes', 'Every task type with its version and the JSON Schema of its input, result and signals', {
      responses: { '200': json('The task types', s.TaskTypesSchema) },
    }),
  },
  '/api/v1/tasks/{id}/result': {
    get: op('tasks', 'getTaskResult', 'A completed task’s typed result; 409 NOT_COMPLETED with its status otherwise; ?wait=N waits up to N seconds', {
      requestParams: { path: z.object({ id }), query: ResultQuerySchema },
      responses: { '200': json('The result', s.TaskResultSchema, ex.taskResultExample), ...errors('400', '404', '409') },
    }),
  },
  '/api/v1/tasks/{id}/signals/{name}': {
    post: op('tasks', 'sendTaskSignal', 'Send the signal a waiting task asks for, with its typed payload (the task types list each type’s signals)', {
      requestParams: { path: z.object({ id, name: SignalNameSchema.meta({ example: 'approval' }) }) },
      requestBody: body(SignalRequestSchema, ex.signalExample),
      responses: { '202': json('Accepted: the task runs on', s.SignalAcceptedSchema, ex.signalAcceptedExample), ...errors('400', '404', '409', '413', '415') },
    }),
  },
};
