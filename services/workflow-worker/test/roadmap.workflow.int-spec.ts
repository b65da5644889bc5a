import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { PermanentError, PreferencesSchema, RetryableError, type Framework, type WorkflowMessage, type WorkflowStep } from '@roadmap/contracts';
import { OfflineProvider, type GenerateOptions, type LlmProvider, type LlmResult, type PromptDefinition } from '@roadmap/llm';
import { createLogger, ExecutionLogger } from '@roadmap/observability';
import { insertRoadmaps } from '@roadmap/persistence';
import { createTestDatabase, type TestDatabase } from '@roadmap/testing';
import { RunStore, TaskLifecycle, WorkflowEngine, WorkflowRegistry } from '@roadmap/workflow';
import { timeOrderedId } from '@roadmap/runtime';
import { RoadmapRepository } from '../src/workflows/roadmap/roadmap.repository.js';
import { applyCheckpoint, roadmapWorkflow, type RoadmapState } from '../src/workflows/roadmap/roadmap.workflow.js';

const RUN_OPTIONS = { signal: new AbortController().signal, isLastDelivery: false };

/** The offline provider, counting calls per prompt, with optional overrides per prompt. */
class CountingProvider implements LlmProvider {
  readonly name = 'counting';
  readonly model = 'offline';
  readonly calls: string[] = [];
  private readonly inner = new OfflineProvider();
  constructor(private readonly overrides: Partial<Record<string, (input: unknown) => unknown>> = {}) {}
  async generate<I, O>(prompt: PromptDefinition<I, O>, input: I, options?: GenerateOptions): Promise<LlmResult<O>> {
    this.calls.push(prompt.name);
    const override = this.overrides[prompt.name];
    if (override) {
      const result = await this.inner.generate(prompt, input, options);
      return { ...result, output: override(result.output) as O };
    }
    return this.inner.generate(prompt, input, options);
  }
}

/**
 * The roadmap definition run by the engine against the real PostgreSQL (the lifecycle's guarded SQL,
 * checkpoints, fencing, the outbox its messages are written to): no NATS, nothing is published.
 */
describe('roadmap workflow (engine + definition)', () => {
  let db: TestDatabase;
  let llm: CountingProvider;
  let message: WorkflowMessage;
  const sut = () => {
    const lifecycle = new TaskLifecycle(db.dataSource);
    const definition = roadmapWorkflow({ llm, repository: new RoadmapRepository(db.dataSource, lifecycle), maxEditRounds: 2 });
    return new WorkflowEngine(
      new WorkflowRegistry([definition]),
      new RunStore(db.dataSource, lifecycle),
      lifecycle,
      new ExecutionLogger('workflow-worker', { publishJson: async () => undefined }, createLogger('roadmap-workflow-test', 'silent')),
      { run: (_taskId: string, signal: AbortSignal, work: (s: AbortSignal) => Promise<unknown>) => work(signal) } as never,
    );
  };
  /**
   * The messages the task's transactions wrote: to the outbox (what the relay would publish), or held
   * for fair dispatch (content items, released to the outbox by their owner's window).
   */
  const outbox = async (): Promise<Array<{ id: string; subject: string; type: string | null; step: string | null }>> =>
    db.dataSource.query(
      `SELECT msg_id AS id, subject, type, step FROM (
         SELECT msg_id, subject, payload->>'type' AS type, payload->>'step' AS step, seq, 0 AS src FROM outbox WHERE payload->>'taskId' = $1
         UNION ALL SELECT msg_id, subject, NULL, NULL, seq, 1 FROM dispatch_queue WHERE task_id::text = $1) m ORDER BY src, seq`,
      [message.taskId],
    );
  /** As the relay does once it published them, and the dispatcher once their work ended. */
  const relayed = () => db.dataSource.query(`DELETE FROM outbox; DELETE FROM dispatch_queue`);
  const task = async () => (await db.dataSource.query(`SELECT status, error, current_step FROM tasks WHERE id = $1`, [message.taskId]))[0];
  const checkpoints = async (): Promise<Array<{ sequence: number; step: string; state: Record<string, unknown> }>> =>
    db.dataSource.query(`SELECT sequence, step, state FROM workflow_checkpoints WHERE task_id = $1 ORDER BY sequence`, [message.taskId]);
  const replay = async (): Promise<RoadmapState> => {
    const state = roadmapWorkflow({} as never).initialState();
    for (const c of await checkpoints()) applyCheckpoint(state, c.step, c.state);
    return state;
  };
  const fannedOut = async () => Number((await db.dataSource.query(`SELECT count(*) AS n FROM content_items i JOIN roadmaps r ON r.id = i.roadmap_id WHERE r.task_id = $1`, [message.taskId]))[0].n);
  const seed = async (options: { reviewMode?: 'required' | 'skip'; version?: string } = {}) => {
    const taskId = timeOrderedId();
    const roadmapId = timeOrderedId();
    const lifecycle = new TaskLifecycle(db.dataSource);
    const input = { goal: 'Become a backend engineer', preferences: PreferencesSchema.parse({}) };
    await db.dataSource.transaction(async (em) => {
      await lifecycle.insert(em, [
        { id: taskId, type: 'roadmap.generate', owner: 'alice', priority: 'normal', input, version: options.version ?? 'roadmap-workflow@1', reviewMode: options.reviewMode ?? 'skip', roadmapId },
      ]);
      await insertRoadmaps(em, [{ id: roadmapId, taskId, owner: 'alice', goal: input.goal, preferences: input.preferences }]);
    });
    message = { taskId, type: 'roadmap.generate', roadmapId, command: 'generate' };
  };

  before(async () => {
    db = await createTestDatabase('roadmapwf');
  });
  after(async () => db?.drop());
  beforeEach(async () => {
    llm = new CountingProvider();
    await relayed();
    await seed();
  });

  it('runs every step once, checkpoints each, and fans out one message per concept and kind', async () => {
    await sut().run(message, RUN_OPTIONS);
    assert.deepEqual(llm.calls, ['intent_analysis', 'curriculum_design', 'validation']);
    const saved = await checkpoints();
    assert.deepEqual(
      saved.map((c) => [c.sequence, c.step]),
      [
        [0, 'intent_analysis'],
        [1, 'curriculum_design'],
        [2, 'validation'],
        [3, 'fan_out'],
      ],
    );
    const framework = saved[1]!.state.output as Framework;
    const concepts = framework.stages.flatMap((s) => s.concepts).length;
    assert.ok(concepts >= 8);
    const rows = await outbox();
    const published = rows.filter((p) => !p.subject.startsWith('events.'));
    assert.equal(published.length, concepts * 3);
    // The task's events were written by the transactions that decided them, in order.
    assert.deepEqual(
      rows.filter((p) => p.subject === `events.task.${message.taskId}`).map((p) => (p.step ? `${p.type} ${p.step}` : p.type)),
      [
        ...['intent_analysis', 'curriculum_design', 'validation'].flatMap((step) => [`step.started ${step}`, `step.completed ${step}`]),
        'step.started fan_out',
        'content.started',
        'step.completed fan_out',
      ],
    );
    assert.equal(new Set(published.map((p) => p.id)).size, published.length, 'every content message has its own dedupe id');
    assert.ok(published.every((p) => p.subject.startsWith('content.generate.normal.')));
    assert.deepEqual(await task(), { status: 'running', error: null, current_step: 'content_generation' });
  });

  it('continues after the last checkpoint without repeating a finished LLM call', async () => {
    await sut().run(message, RUN_OPTIONS);
    // A crash after curriculum design: only the first two checkpoints survived.
    await db.dataSource.query(`DELETE FROM workflow_checkpoints WHERE task_id = $1 AND sequence >= 2`, [message.taskId]);
    llm = new CountingProvider();
    await relayed();
    await sut().run(message, RUN_OPTIONS);
    assert.deepEqual(llm.calls, ['validation']);
    assert.ok((await outbox()).length > 0);
  });

  it('does nothing for a workflow already fanned out, or a task that already ended', async () => {
    await sut().run(message, RUN_OPTIONS);
    llm = new CountingProvider();
    await relayed();
    await sut().run(message, RUN_OPTIONS);
    assert.equal((await task()).current_step, 'content_generation', 'a redelivery leaves the content phase as it is');
    await db.dataSource.query(`UPDATE tasks SET status = 'cancelled' WHERE id = $1`, [message.taskId]);
    await sut().run(message, RUN_OPTIONS);
    assert.deepEqual(llm.calls, []);
    assert.deepEqual(await outbox(), [], 'no message is written twice');
  });

  it('edits an invalid framework and validates it again', async () => {
    llm = new CountingProvider({
      // A curriculum whose second concept duplicates the first one's id: a structural error.
      curriculum_design: (output) => {
        const framework = structuredClone(output) as Framework;
        framework.stages[0]!.concepts[1]!.id = framework.stages[0]!.concepts[0]!.id;
        return framework;
      },
    });
    await sut().run(message, RUN_OPTIONS);
    assert.deepEqual(llm.calls, ['intent_analysis', 'curriculum_design', 'validation', 'edit', 'validation']);
    const steps = (await checkpoints()).map((c) => c.step as WorkflowStep);
    assert.deepEqual(steps, ['intent_analysis', 'curriculum_design', 'validation', 'edit', 'validation', 'fan_out']);
    assert.equal((await replay()).autoEdits, 1);
    assert.equal((await replay()).revision, 2, 'designed, then repaired: two framework revisions');
  });

  it('dead-letters a command for a task that was never written (commands go out only after their commit)', async () => {
    await assert.rejects(
      sut().run({ ...message, taskId: timeOrderedId() }, RUN_OPTIONS),
      (error: unknown) => error instanceof PermanentError && error.code === 'INVALID_MESSAGE',
    );
  });

  it('fails the task at once on a permanent error, and on a retryable one only at the last delivery', async () => {
    llm = new CountingProvider({
      intent_analysis: () => {
        throw new PermanentError('LLM_REJECTED', 'refused');
      },
    });
    await assert.rejects(sut().run(message, RUN_OPTIONS), /refused/);
    assert.deepEqual((await task()).error, { code: 'LLM_REJECTED', message: 'refused' });

    await seed();
    llm = new CountingProvider({
      intent_analysis: () => {
        throw new RetryableError('LLM_UNAVAILABLE', 'down');
      },
    });
    await assert.rejects(sut().run(message, RUN_OPTIONS), /down/);
    assert.equal((await task()).error, null, 'a retryable error leaves the task for the next delivery');
    await assert.rejects(sut().run(message, { ...RUN_OPTIONS, isLastDelivery: true }), /down/);
    assert.deepEqual((await task()).error, { code: 'LLM_UNAVAILABLE', message: 'down' });
    assert.equal((await task()).status, 'failed');
  });

  it('pauses for a person when review is required, then fans out on approval', async () => {
    await seed({ reviewMode: 'required' });
    await sut().run(message, RUN_OPTIONS);
    assert.equal((await task()).status, 'awaiting_review');
    assert.equal(await fannedOut(), 0);
    assert.equal((await checkpoints()).at(-1)!.step, 'review_requested');

    // A redelivered generate message while waiting does nothing.
    await sut().run(message, RUN_OPTIONS);
    assert.equal((await checkpoints()).at(-1)!.step, 'review_requested');

    await db.dataSource.query(`UPDATE tasks SET status = 'running' WHERE id = $1`, [message.taskId]); // the gateway's transition on POST review
    llm = new CountingProvider();
    await sut().run({ ...message, command: 'review', review: { decision: 'approve', by: 'alice', revision: 1 } }, RUN_OPTIONS);
    assert.deepEqual(llm.calls, [], 'approval runs no LLM step');
    assert.ok((await fannedOut()) > 0);
  });

  it('applies a revision request with the edit step, validates, and asks for review again', async () => {
    await seed({ reviewMode: 'required' });
    await sut().run(message, RUN_OPTIONS);
    await db.dataSource.query(`UPDATE tasks SET status = 'running' WHERE id = $1`, [message.taskId]);
    llm = new CountingProvider();
    await sut().run({ ...message, command: 'review', review: { decision: 'revise', feedback: 'Add GraphQL APIs', by: 'alice', revision: 1 } }, RUN_OPTIONS);
    assert.deepEqual(llm.calls, ['edit', 'validation']);
    const edit = (await checkpoints()).find((c) => c.step === 'edit')!;
    assert.equal(edit.state.feedback, 'Add GraphQL APIs');
    assert.equal((await task()).status, 'awaiting_review');
    assert.equal(await fannedOut(), 0);
    const state = await replay();
    assert.equal(state.revision, 2);
    assert.equal(state.awaitingReview, true);
  });

  it('refuses to continue a task started by another workflow version', async () => {
    await seed({ version: 'roadmap-workflow@0' });
    await assert.rejects(sut().run(message, RUN_OPTIONS), (error: unknown) => (error as PermanentError).code === 'WORKFLOW_VERSION_MISMATCH');
    assert.equal((await task()).error?.code, 'WORKFLOW_VERSION_MISMATCH');
    assert.deepEqual(llm.calls, []);
  });
});
