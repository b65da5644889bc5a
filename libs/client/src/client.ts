import createClient, { type Client } from 'openapi-fetch';
import type { components, paths } from './generated/openapi.js';

/** A client of the API: every path, parameter, body and response typed from the OpenAPI document. */
export type RoadmapClient = Client<paths>;

export interface RoadmapClientOptions {
  /** The gateway's origin (`https://roadmap.example.com`); '' for the page's own origin in a browser. */
  baseUrl: string;
  /** An API key (rk_…) or a JWT, sent as `Authorization: Bearer …`. */
  credential?: string;
  /** Another fetch (tests, proxies); defaults to the global one. */
  fetch?: typeof fetch;
}

/** Creates the typed client (openapi-fetch over the generated `paths`). */
export function createRoadmapClient(options: RoadmapClientOptions): RoadmapClient {
  return createClient<paths>({
    baseUrl: options.baseUrl.replace(/\/+$/, ''),
    headers: options.credential ? { authorization: `Bearer ${options.credential}` } : {},
    ...(options.fetch ? { fetch: (request: Request) => options.fetch!(request) } : {}),
  });
}

type Schemas = components['schemas'];
/** The shapes the API answers with, by their component names in the document. */
export type ApiError = Schemas['Error'];
export type Task = Schemas['Task'];
export type TaskDetail = Schemas['TaskDetail'];
export type TaskPage = Schemas['TaskPage'];
export type TaskEvent = Schemas['TaskEvent'];
export type Roadmap = Schemas['Roadmap'];
export type RoadmapAccepted = Schemas['RoadmapAccepted'];
export type Revisions = Schemas['Revisions'];
export type LogPage = Schemas['LogPage'];
export type LlmCall = Schemas['LlmCall'];
export type Usage = Schemas['Usage'];
export type Queues = Schemas['Queues'];
export type Workers = Schemas['Workers'];
export type DeadLetter = Schemas['DeadLetter'];
export type DeadLetterDetail = Schemas['DeadLetterDetail'];
export type Maintenance = Schemas['Maintenance'];
export type TaskStats = Schemas['TaskStats'];
export type ConsoleTaskPage = Schemas['ConsoleTaskPage'];
export type QueuePause = Schemas['QueuePause'];
export type QueuePurge = Schemas['QueuePurge'];
export type BulkDryRun = Schemas['BulkDryRun'];
export type BulkJob = Schemas['BulkJob'];
export type BulkJobStarted = Schemas['BulkJobStarted'];
export type TaskSearchPage = Schemas['TaskSearchPage'];
export type AuditPage = Schemas['AuditPage'];
export type FeedEvent = Schemas['FeedEvent'];
export type Schedule = Schemas['Schedule'];
export type BuiltinSchedule = Schemas['BuiltinSchedule'];
export type ScheduleRun = Schemas['ScheduleRun'];
export type BuiltinScheduleRun = Schemas['BuiltinScheduleRun'];
export type CreateRoadmapRequest = paths['/api/v1/roadmaps']['post']['requestBody']['content']['application/json'];
export type { components, operations, paths } from './generated/openapi.js';
