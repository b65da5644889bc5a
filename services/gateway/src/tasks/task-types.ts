import { Inject, Injectable } from '@nestjs/common';
import { fieldIssues, ValidationError, type TaskTypeContract } from '@roadmap/contracts';
import { UnknownTaskTypeError } from '@roadmap/workflow';
import { z } from 'zod';

/** Injection token of the task types this gateway accepts (built-in and WORKFLOW_MODULES). */
export const TASK_TYPE_CONTRACTS = Symbol('TASK_TYPE_CONTRACTS');

/** The task types the API accepts, each with its schemas, and the checks POST /tasks makes with them. */
@Injectable()
export class TaskTypes {
  private readonly byType: Map<string, TaskTypeContract>;

  constructor(@Inject(TASK_TYPE_CONTRACTS) contracts: readonly TaskTypeContract[]) {
    this.byType = new Map(contracts.map((c) => [c.type, c]));
  }

  /** The contract of `type`; 400 UNKNOWN_TASK_TYPE listing the known ones otherwise. */
  get(type: string): TaskTypeContract {
    const contract = this.byType.get(type);
    if (!contract) throw new UnknownTaskTypeError(type, [...this.byType.keys()]);
    return contract;
  }

  /** `input` validated against the type's schema; 400 VALIDATION_FAILED naming each field (`input.goals.3`). */
  parseInput(contract: TaskTypeContract, input: unknown): unknown {
    return parseAt(contract.input, input, 'input', `the input of a ${contract.type} task`);
  }

  /** A signal's payload validated against the type's schema for it; 400 for an unknown signal. */
  parseSignal(contract: TaskTypeContract, name: string, payload: unknown): unknown {
    const schema = contract.signals?.[name];
    if (!schema) {
      const known = Object.keys(contract.signals ?? {});
      throw new ValidationError(`${contract.type} tasks wait for no signal "${name}"${known.length ? `; they wait for ${known.join(', ')}` : ''}`, [
        { field: 'name', message: known.length ? `must be one of ${known.join(', ')}` : 'this task type has no signals' },
      ]);
    }
    return parseAt(schema, payload, 'payload', `the ${name} signal's payload`);
  }

  /** GET /api/v1/task-types: every type with its version and the JSON Schema of its input and result. */
  list() {
    return {
      items: [...this.byType.values()].map((c) => ({
        type: c.type,
        version: c.version,
        description: c.description,
        input: z.toJSONSchema(c.input, { io: 'input', unrepresentable: 'any' }),
        result: z.toJSONSchema(c.result, { unrepresentable: 'any' }),
        signals: Object.fromEntries(Object.entries(c.signals ?? {}).map(([name, schema]) => [name, z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' })])),
      })),
    };
  }
}

function parseAt(schema: z.ZodType, value: unknown, field: string, what: string): unknown {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const details = fieldIssues(result.error.issues.map((issue) => ({ ...issue, path: [field, ...issue.path] })));
  throw new ValidationError(`${what} is invalid: ${details.map((d) => `${d.field}: ${d.message}`).join('; ')}`, details);
}
