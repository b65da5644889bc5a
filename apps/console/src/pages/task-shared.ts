import type { LogPage, Revisions as RevisionList, Roadmap, TaskDetail } from '@roadmap/client';

/** Types and helpers the task page's parts share (task.tsx, task-review, task-content, task-usage). */
export const KINDS = ['tutorial', 'resources', 'quiz'] as const;
export type Kind = (typeof KINDS)[number];
export type Task = TaskDetail;
export type Revision = RevisionList['items'][number];
export type RoadmapConcept = Roadmap['stages'][number]['concepts'][number];
export type LogEntry = LogPage['items'][number];
/** The typed client's path parameter for routes under /:id. */
export const path = (id: string) => ({ params: { path: { id } } });
