import { AdminBulkType, AppError, type AdminBulkAction, type AdminBulkInput, type AdminBulkResult } from '@roadmap/contracts';
import { appendAudit } from '@roadmap/persistence';
import { defineWorkflow, type DeadLetterActions, type TaskActions } from '@roadmap/workflow';
import type { EntityManager } from 'typeorm';
import { AdminBulkRepository, AlreadyRecorded, type Outcome } from './admin-bulk.repository.js';

/** Items per checkpoint: the progress the task shows moves this many at a time. */
export const BULK_CHUNK = 100;
/** Items (or cancel batches) acted on at once. */
const IN_FLIGHT = 2;
/**
 * Tasks a cancel ends in one transaction (TaskActions.cancelMany): the common bulk action (a flood to
 * stop) costs a few statements per batch instead of several per task.
 */
const CANCEL_BATCH = 25;

interface BulkState {
  /** Ids before this position have all been acted on (their chunk's checkpoint is written). */
  position: number;
  result?: AdminBulkResult;
}

export interface AdminBulkDeps {
  tasks: TaskActions;
  deadLetters: DeadLetterActions;
  repository: AdminBulkRepository;
}

/**
 * admin.bulk: an operator's bulk action over the ids snapshotted when it was asked for, worked
 * through in checkpointed chunks of {@link BULK_CHUNK}, each item through the same single-item action
 * as the API (TaskActions, DeadLetterActions). Each item's outcome is recorded in the transaction of
 * its action (admin_bulk_items), so a run taken over after a crash (the engine redelivers it to
 * another worker under a new lease) skips the items of its chunk that were acted on already: no item
 * is acted on twice, and the counts are those of the outcomes. The last step writes the audit entry
 * `<action>.finished` in the transaction of its checkpoint.
 */
export function adminBulkWorkflow(deps: AdminBulkDeps) {
  return defineWorkflow<AdminBulkInput, AdminBulkResult, BulkState>({
    contract: AdminBulkType,
    initialState: () => ({ position: 0 }),
    apply(state, step, data) {
      if (step === 'chunk') state.position = data.upTo as number;
      if (step === 'finish') state.result = data.result as AdminBulkResult;
    },
    next(state, task) {
      if (state.position < task.input.ids.length) return { step: 'chunk' };
      return state.result ? { complete: state.result } : { step: 'finish' };
    },
    steps: {
      async chunk({ task, state, signal }) {
        const ids = task.input.ids.slice(state.position, state.position + BULK_CHUNK);
        const recorded = await deps.repository.recorded(task.id, ids);
        const todo = ids.filter((id) => !recorded.has(id));
        const act = actionOf(deps, task.input.action, task.input.actor);
        const batch = task.input.action === 'tasks.cancel' ? CANCEL_BATCH : 1;
        let next = 0;
        const worker = async () => {
          while (next < todo.length && !signal.aborted) {
            const ids = todo.slice(next, (next += batch));
            if (task.input.action === 'tasks.cancel') await cancelBatch(deps, task.id, ids);
            else await actOn(deps.repository, task.id, ids[0]!, act);
          }
        };
        await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
        // Cancelled or shutting down: stop here; a later run continues from the outcomes recorded.
        if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('aborted');
        return {
          data: { upTo: state.position + ids.length },
          effect: async (em) => deps.repository.showProgress(em, task.id, task.input.ids.length),
        };
      },
      async finish({ task }) {
        const result = await deps.repository.result(task.id, task.input.ids.length);
        return {
          data: { result },
          effect: async (em: EntityManager) => {
            await deps.repository.showProgress(em, task.id, task.input.ids.length);
            await appendAudit(em, { actor: task.input.actor, action: `${task.input.action}.finished`, target: task.id, params: {}, outcome: 'ok', result: { ...result, errors: result.errors.length } });
          },
        };
      },
    },
  });
}

/** An item's action; resolves true when it changed the item, false when there was nothing to do. `record` commits with the change. */
type ItemAction = (id: string, record: (em: EntityManager) => Promise<void>) => Promise<boolean>;

/** Cancels a batch: those it ended are `done` (recorded in the cancel's transaction), the others had ended already: `skipped`. */
async function cancelBatch(deps: AdminBulkDeps, taskId: string, ids: string[]): Promise<void> {
  const cancelled = new Set(await deps.tasks.cancelMany(ids, { also: (em, done) => deps.repository.recordMany(em, taskId, done, 'done') }));
  await deps.repository.recordMany(deps.repository.pool, taskId, ids.filter((id) => !cancelled.has(id)), 'skipped');
}

function actionOf(deps: AdminBulkDeps, action: AdminBulkAction, actor: string): ItemAction {
  switch (action) {
    case 'tasks.cancel':
      return (id, record) => deps.tasks.cancelMany([id], { also: (em) => record(em) }).then((ids) => ids.length > 0);
    case 'tasks.resume':
      return async (id, record) => (await deps.tasks.resume(id, { also: record }), true);
    case 'tasks.retry-failed-items':
      return (id, record) => deps.tasks.retryFailedItems(id, record);
    case 'dead-letters.replay':
      return async (id, record) => (await deps.deadLetters.replay(id, record), true);
    case 'dead-letters.discard':
      return (id, record) => deps.deadLetters.discard(id, actor, record);
  }
}

/**
 * Acts on one item and records its outcome: `done` in the action's own transaction (a change and its
 * record commit together, or neither); `skipped` (nothing to do, or a 404/409: the item moved on since
 * it was selected) and `failed` after it. An item recorded already (by a run this one took over from,
 * still finishing) rolls the action back: never twice.
 */
async function actOn(repository: AdminBulkRepository, taskId: string, id: string, act: ItemAction): Promise<void> {
  let outcome: Outcome;
  let error: { code: string; message: string } | undefined;
  try {
    outcome = (await act(id, (em) => repository.record(em, taskId, id, 'done'))) ? 'done' : 'skipped';
    if (outcome === 'done') return;
  } catch (err) {
    if (err instanceof AlreadyRecorded) return;
    if (err instanceof AppError && (err.status === 409 || err.status === 404)) outcome = 'skipped';
    else {
      outcome = 'failed';
      error = { code: err instanceof AppError ? err.code : 'INTERNAL', message: err instanceof Error ? err.message : String(err) };
    }
  }
  await repository.record(repository.pool, taskId, id, outcome, error).catch((err) => {
    if (!(err instanceof AlreadyRecorded)) throw err;
  });
}
