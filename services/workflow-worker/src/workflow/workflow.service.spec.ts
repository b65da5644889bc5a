import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { PermanentError, RetryableError, WORKFLOW_VERSION, type Framework, type WorkflowMessage, type WorkflowStep } from '@roadmap/contracts';
import { OfflineProvider, type GenerateOptions, type LlmProvider, type LlmResult, type PromptDefinition } from '@roadmap/llm';
import type { JetStreamPublisher, PublishItem } from '@roadmap/messaging';
import type { ExecutionLogger } from '@roadmap/observability';
import type { RoadmapEntity, TaskEntity, WorkflowCheckpointEntity } from '@roadmap/persistence';
import type { TaskEvents } from '@roadmap/runtime';
import type { FannedOutItem, WorkflowRepository, WorkflowRun } from './workflow.repository.js';
import { replay, WorkflowService } from './workflow.service.js';

const TASK = '0190b6f0-0000-7000-8000-000000000001';
const ROADMAP = '0190b6f0-0000-7000-8000-000000000002';
const MESSAGE: WorkflowMessage = { taskId: TASK, roadmapId: ROADMAP, command: 'generate' };
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

/** In-memory stand-in for the workflow's repository: records what the service writes. */
class FakeRepository {
  checkpoints: WorkflowCheckpointEntity[] = [];
  failed: Array<{ code: string; message: string }> = [];
  steps: string[] = [];
  taskStatus: TaskEntity['status'] = 'queued';
  reviewMode: TaskEntity['reviewMode'] = 'skip';
  workflowVersion = WORKFLOW_VERSION;
  exists = true;
  fannedOut = 0;

  async load(): Promise<WorkflowRun | null> {
    if (!this.exists) return null;
    return {
      task: { id: TASK, status: this.taskStatus, priority: 'normal', reviewMode: this.reviewMode, workflowVersion: this.workflowVersion } as TaskEntity,
      roadmap: { id: ROADMAP, goal: 'Become a backend engineer', preferences: { level: 'beginner', hoursPerWeek: 8, language: 'en' } } as RoadmapEntity,
      checkpoints: [...this.checkpoints],
    };
  }
  async markRunning() {
    if (!['queued', 'running'].includes(this.taskStatus)) return false;
    this.taskStatus = 'running';
    return true;
  }
  async pauseForReview(_task: string, _roadmap: string, sequence: number, revision: number) {
    this.checkpoints.push({ taskId: TASK, sequence, step: 'review_requested', state: { revision }, promptVersion: null, createdAt: new Date() });
    this.taskStatus = 'awaiting_review';
    return true;
  }
  async awaitReviewAgain() {
    this.taskStatus = 'awaiting_review';
  }
  async setStep(_task: string, step: string) {
    this.steps.push(step);
  }
  async saveCheckpoint(checkpoint: { sequence: number; step: string; state: Record<string, unknown> }) {
    this.checkpoints.push({ taskId: TASK, promptVersion: null, createdAt: new Date(), ...checkpoint });
    return true;
  }
  async fanOut(_task: string, _roadmap: string, framework: Framework): Promise<FannedOutItem[]> {
    this.fannedOut += 1;
    return framework.stages.flatMap((s) => s.concepts).flatMap((c) => (['tutorial', 'resources', 'quiz'] as const).map((kind) => ({ conceptId: c.id, kind })));
  }
  async fail(_task: string, _roadmap: string, error: { code: string; message: string }) {
    this.failed.push(error);
    return true;
  }
}

describe(WorkflowService.name, () => {
  let repository: FakeRepository;
  let llm: CountingProvider;
  let published: PublishItem[];
  const sut = () =>
    new WorkflowService(
      repository as unknown as WorkflowRepository,
      llm,
      { publishMany: async (items: PublishItem[]) => void published.push(...items) } as unknown as JetStreamPublisher,
      { publish: async () => undefined } as unknown as TaskEvents,
      { info: async () => true, warn: async () => true, error: async () => true } as unknown as ExecutionLogger,
      { maxEditRounds: 2 },
      { run: (_taskId: string, signal: AbortSignal, work: (s: AbortSignal) => Promise<unknown>) => work(signal) } as never,
    );

  beforeEach(() => {
    repository = new FakeRepository();
    llm = new CountingProvider();
    published = [];
  });

  it('runs every step once, checkpoints each, and fans out one message per concept and kind', async () => {
    await sut().run(MESSAGE, RUN_OPTIONS);
    assert.deepEqual(llm.calls, ['intent_analysis', 'curriculum_design', 'validation']);
    assert.deepEqual(
      repository.checkpoints.map((c) => [c.sequence, c.step]),
      [
        [0, 'intent_analysis'],
        [1, 'curriculum_design'],
        [2, 'validation'],
        [3, 'fan_out'],
      ],
    );
    const framework = repository.checkpoints[1]!.state.output as Framework;
    const concepts = framework.stages.flatMap((s) => s.concepts).length;
    assert.ok(concepts >= 8);
    assert.equal(published.length, concepts * 3);
    assert.equal(new Set(published.map((p) => p.msgId)).size, published.length, 'every content message has its own dedupe id');
    assert.ok(published.every((p) => p.subject.startsWith('content.generate.normal.')));
  });

  it('continues after the last checkpoint without repeating a finished LLM call', async () => {
    await sut().run(MESSAGE, RUN_OPTIONS);
    // A crash after curriculum design: only the first two checkpoints survived.
    repository.checkpoints = repository.checkpoints.slice(0, 2);
    llm = new CountingProvider();
    published = [];
    await sut().run(MESSAGE, RUN_OPTIONS);
    assert.deepEqual(llm.calls, ['validation']);
    assert.ok(published.length > 0);
  });

  it('does nothing for a workflow already fanned out, or a task that already ended', async () => {
    await sut().run(MESSAGE, RUN_OPTIONS);
    llm = new CountingProvider();
    published = [];
    await sut().run(MESSAGE, RUN_OPTIONS);
    repository.taskStatus = 'cancelled';
    await sut().run(MESSAGE, RUN_OPTIONS);
    assert.deepEqual(llm.calls, []);
    assert.deepEqual(published, []);
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
    await sut().run(MESSAGE, RUN_OPTIONS);
    assert.deepEqual(llm.calls, ['intent_analysis', 'curriculum_design', 'validation', 'edit', 'validation']);
    const steps = repository.checkpoints.map((c) => c.step as WorkflowStep);
    assert.deepEqual(steps, ['intent_analysis', 'curriculum_design', 'validation', 'edit', 'validation', 'fan_out']);
    assert.equal(replay(repository.checkpoints).autoEdits, 1);
    assert.equal(replay(repository.checkpoints).revision, 2, 'designed, then repaired: two framework revisions');
  });

  it('asks for a quick retry while the accepted task is not yet visible', async () => {
    repository.exists = false;
    await assert.rejects(sut().run(MESSAGE, RUN_OPTIONS), (error: unknown) => error instanceof RetryableError && error.retryAfterMs === 250);
  });

  it('fails the task at once on a permanent error, and on a retryable one only at the last delivery', async () => {
    llm = new CountingProvider({
      intent_analysis: () => {
        throw new PermanentError('LLM_REJECTED', 'refused');
      },
    });
    await assert.rejects(sut().run(MESSAGE, RUN_OPTIONS), /refused/);
    assert.deepEqual(repository.failed, [{ code: 'LLM_REJECTED', message: 'refused' }]);

    repository = new FakeRepository();
    llm = new CountingProvider({
      intent_analysis: () => {
        throw new RetryableError('LLM_UNAVAILABLE', 'down');
      },
    });
    await assert.rejects(sut().run(MESSAGE, RUN_OPTIONS), /down/);
    assert.deepEqual(repository.failed, [], 'a retryable error leaves the task for the next delivery');
    await assert.rejects(sut().run(MESSAGE, { ...RUN_OPTIONS, isLastDelivery: true }), /down/);
    assert.deepEqual(repository.failed, [{ code: 'LLM_UNAVAILABLE', message: 'down' }]);
  });

  it('pauses for a person when review is required, then fans out on approval', async () => {
    repository.reviewMode = 'required';
    await sut().run(MESSAGE, RUN_OPTIONS);
    assert.equal(repository.taskStatus, 'awaiting_review');
    assert.equal(repository.fannedOut, 0);
    assert.equal(repository.checkpoints.at(-1)!.step, 'review_requested');

    // A redelivered generate message while waiting does nothing.
    await sut().run(MESSAGE, RUN_OPTIONS);
    assert.equal(repository.checkpoints.at(-1)!.step, 'review_requested');

    repository.taskStatus = 'running'; // the gateway's transition on POST review
    llm = new CountingProvider();
    await sut().run({ ...MESSAGE, command: 'review', review: { decision: 'approve', by: 'alice', revision: 1 } }, RUN_OPTIONS);
    assert.deepEqual(llm.calls, [], 'approval runs no LLM step');
    assert.equal(repository.fannedOut, 1);
  });

  it('applies a revision request with the edit step, validates, and asks for review again', async () => {
    repository.reviewMode = 'required';
    await sut().run(MESSAGE, RUN_OPTIONS);
    repository.taskStatus = 'running';
    llm = new CountingProvider();
    await sut().run({ ...MESSAGE, command: 'review', review: { decision: 'revise', feedback: 'Add GraphQL APIs', by: 'alice', revision: 1 } }, RUN_OPTIONS);
    assert.deepEqual(llm.calls, ['edit', 'validation']);
    const edit = repository.checkpoints.find((c) => c.step === 'edit')!;
    assert.equal(edit.state.feedback, 'Add GraphQL APIs');
    assert.equal(repository.taskStatus, 'awaiting_review');
    assert.equal(repository.fannedOut, 0);
    const state = replay(repository.checkpoints);
    assert.equal(state.revision, 2);
    assert.equal(state.awaitingReview, true);
  });

  it('refuses to continue a task started by another workflow version', async () => {
    repository.workflowVersion = 'roadmap-workflow@0';
    await assert.rejects(sut().run(MESSAGE, RUN_OPTIONS), (error: unknown) => (error as PermanentError).code === 'WORKFLOW_VERSION_MISMATCH');
    assert.equal(repository.failed[0]?.code, 'WORKFLOW_VERSION_MISMATCH');
    assert.deepEqual(llm.calls, []);
  });
});
