import { pathToFileURL } from 'node:url';
import { isAbsolute, resolve } from 'node:path';
import { AppError, BUILT_IN_TASK_TYPES, PermanentError, type TaskTypeContract } from '@roadmap/contracts';
import { z } from 'zod';
import type { Deadlines } from '../lifecycle/task-lifecycle.js';
import type { WorkflowDefinition, WorkflowModule } from './definition.js';

type AnyDefinition = WorkflowDefinition<any, any, any>;

/** Settings of every process that knows task types (the gateway and the workflow worker). */
export const WorkflowTypesEnvSchema = z.object({
  /**
   * Extra workflow modules to load (comma-separated file paths or package names), each exporting
   * `workflows`: a job type added by configuration. Both the gateway and the workflow worker load them.
   */
  WORKFLOW_MODULES: z.string().trim().default(''),
});

/** TASK_DEADLINES: per type, a whole task's soft and hard deadline in milliseconds. */
export const TaskDeadlinesSchema = z.record(z.string(), z.object({ softMs: z.number().int().positive(), hardMs: z.number().int().positive() }).refine((d) => d.hardMs > d.softMs, 'hardMs must be after softMs'));

/**
 * Imports the modules named in WORKFLOW_MODULES (comma-separated paths or package names) and returns
 * what they declare: a new job type is deployed by configuration, with no edit to the engine, the
 * gateway or the chart.
 */
export async function loadWorkflowModules(spec: string | undefined): Promise<AnyDefinition[]> {
  const definitions: AnyDefinition[] = [];
  for (const entry of (spec ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
    const url = entry.startsWith('.') || isAbsolute(entry) ? pathToFileURL(resolve(entry)).href : entry;
    const module = (await import(url)) as Partial<WorkflowModule>;
    if (!Array.isArray(module.workflows)) throw new Error(`WORKFLOW_MODULES: ${entry} exports no \`workflows\` array`);
    definitions.push(...module.workflows);
  }
  return definitions;
}

/** The contracts a process knows: the built-in types plus those of WORKFLOW_MODULES. */
export function contractsOf(definitions: readonly AnyDefinition[]): TaskTypeContract[] {
  const byType = new Map<string, TaskTypeContract>(BUILT_IN_TASK_TYPES.map((c) => [c.type, c]));
  for (const d of definitions) byType.set(d.contract.type, d.contract);
  return [...byType.values()];
}

/** Every task type this worker runs, by name; start-up fails on a type declared twice. */
export class WorkflowRegistry {
  private readonly byType = new Map<string, AnyDefinition>();

  constructor(
    definitions: readonly AnyDefinition[],
    private readonly deadlines: Record<string, Deadlines> = {},
  ) {
    for (const definition of definitions) {
      const type = definition.contract.type;
      if (this.byType.has(type)) throw new Error(`workflow ${type} is registered twice`);
      this.byType.set(type, definition);
    }
    for (const type of Object.keys(deadlines)) if (!this.byType.has(type)) throw new Error(`TASK_DEADLINES names ${type}, which no workflow defines`);
  }

  /** The definition of `type`; a task of a type this worker does not run fails for good. */
  get(type: string): AnyDefinition {
    const definition = this.byType.get(type);
    if (!definition) throw new PermanentError('WORKFLOW_INVALID', `no workflow definition for task type ${type} in this worker`);
    return definition;
  }

  has(type: string): boolean {
    return this.byType.has(type);
  }

  all(): AnyDefinition[] {
    return [...this.byType.values()];
  }

  deadlinesOf(type: string): Deadlines | undefined {
    return this.deadlines[type] ?? this.byType.get(type)?.deadlines;
  }
}

/** A type name nobody registered (the API's 400). */
export class UnknownTaskTypeError extends AppError {
  constructor(type: string, known: readonly string[]) {
    super('UNKNOWN_TASK_TYPE', `unknown task type "${type}"; known types: ${known.join(', ')}`, {
      status: 400,
      details: [{ field: 'type', message: `must be one of ${known.join(', ')}` }],
    });
  }
}
