import { ApiKeyEntity } from './api-key.entity.js';
import { ConceptEntity } from './concept.entity.js';
import { ContentItemEntity } from './content-item.entity.js';
import { ExecutionLogEntity } from './execution-log.entity.js';
import { LlmCallEntity } from './llm-call.entity.js';
import { RoadmapRevisionEntity } from './roadmap-revision.entity.js';
import { RoadmapEntity } from './roadmap.entity.js';
import { TaskEntity } from './task.entity.js';
import { WorkflowCheckpointEntity } from './workflow-checkpoint.entity.js';

export * from './api-key.entity.js';
export * from './concept.entity.js';
export * from './content-item.entity.js';
export * from './execution-log.entity.js';
export * from './llm-call.entity.js';
export * from './roadmap-revision.entity.js';
export * from './roadmap.entity.js';
export * from './task.entity.js';
export * from './workflow-checkpoint.entity.js';

export const ENTITIES = [
  TaskEntity,
  RoadmapEntity,
  RoadmapRevisionEntity,
  ConceptEntity,
  ContentItemEntity,
  WorkflowCheckpointEntity,
  ExecutionLogEntity,
  ApiKeyEntity,
  LlmCallEntity,
];
