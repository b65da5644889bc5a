import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AppError, FrameworkSchema, type Framework, type IntentAnalysis, type Level, type Preferences } from '@roadmap/contracts';
import { checkFramework } from '../check-framework.js';
import { PROMPTS, contentPrompt } from '../prompts/registry.js';
import { OfflineProvider } from './offline-provider.js';

const offline = new OfflineProvider();
const prefs = (level: Level = 'beginner', hoursPerWeek = 8, extra: Partial<Preferences> = {}): Preferences => ({ level, hoursPerWeek, language: 'en', ...extra });

async function roadmap(goal: string, preferences = prefs()): Promise<{ intent: IntentAnalysis; framework: Framework }> {
  const intent = (await offline.generate(PROMPTS.intent_analysis, { goal, preferences })).output;
  const framework = (await offline.generate(PROMPTS.curriculum_design, { intent })).output;
  return { intent, framework };
}

const concepts = (f: Framework) => f.stages.flatMap((s) => s.concepts);

/** The structural rules the curriculum prompt states, checked independently of checkFramework. */
function assertWellFormed(framework: Framework, intent: IntentAnalysis, goal: string): void {
  assert.doesNotThrow(() => FrameworkSchema.parse(framework), goal);
  const all = concepts(framework);
  assert.ok(all.length >= 8, `${goal}: ${all.length} concepts`);
  assert.equal(new Set(all.map((c) => c.id)).size, all.length, `${goal}: concept ids are unique`);
  const seen = new Set<string>();
  for (const concept of all) {
    for (const p of concept.prerequisites) assert.ok(seen.has(p), `${goal}: ${concept.id} needs ${p}, which is not earlier`);
    seen.add(concept.id);
  }
  for (const stage of framework.stages) assert.ok(stage.concepts.length >= 2 && stage.concepts.length <= 6, `${goal}: stage ${stage.id} size`);
  assert.deepEqual(checkFramework(framework, intent), [], `${goal}: checkFramework finds nothing`);
}

describe('OfflineProvider', () => {
  it('is deterministic: the same input gives deep-equal output, byte for byte', async () => {
    const a = await roadmap('Become a backend engineer');
    const b = await roadmap('Become a backend engineer');
    assert.deepEqual(b, a);
    assert.equal(JSON.stringify(b.framework), JSON.stringify(a.framework));
    const stage = a.framework.stages[0]!;
    const input = { roadmapTitle: a.framework.title, intent: a.intent, stage: { id: stage.id, title: stage.title }, concept: stage.concepts[0]! };
    for (const kind of ['tutorial', 'resources', 'quiz'] as const) {
      const first = await offline.generate(contentPrompt(kind), input);
      const second = await offline.generate(contentPrompt(kind), input);
      assert.equal(JSON.stringify(second.output), JSON.stringify(first.output), kind);
    }
  });

  it('gives different goals different frameworks', async () => {
    const ids = async (goal: string) => concepts((await roadmap(goal)).framework).map((c) => c.id);
    const backend = await ids('Become a backend engineer');
    const frontend = await ids('Become a frontend developer');
    const bread = await ids('learn to bake sourdough bread');
    const chess = await ids('get better at chess openings');
    assert.notDeepEqual(frontend, backend);
    assert.notDeepEqual(bread, backend);
    assert.notDeepEqual(chess, bread);
  });

  it('designs a beginner backend curriculum: fundamentals first, >= 8 concepts, valid prerequisites', async () => {
    const goal = 'Become a backend engineer';
    const { intent, framework } = await roadmap(goal);
    assert.equal(intent.level, 'beginner');
    assert.equal(intent.hoursPerWeek, 8);
    assert.match(intent.targetRole, /backend engineer/i);
    assertWellFormed(framework, intent, goal);
    const ids = concepts(framework).map((c) => c.id);
    assert.equal(ids[0], 'programming-fundamentals', 'a beginner starts with fundamentals');
    assert.ok(ids.includes('relational-databases-and-sql'));
    assert.ok(ids.includes('http-servers-and-routing'));
    // The intent's duration matches the weeks the framework plans at 8 h/week.
    assert.equal(framework.stages.reduce((n, s) => n + s.weeks, 0), intent.durationWeeks);
  });

  it('scales by level: an intermediate learner skips the foundations and reaches further', async () => {
    const beginner = (await roadmap('Become a backend engineer', prefs('beginner'))).framework;
    const intermediate = (await roadmap('Become a backend engineer', prefs('intermediate'))).framework;
    assert.ok(!concepts(intermediate).some((c) => c.id === 'programming-fundamentals'));
    assert.ok(concepts(intermediate).some((c) => c.id === 'automated-testing'));
    assert.ok(!concepts(beginner).some((c) => c.id === 'automated-testing'));
  });

  it('fits hours to a requested duration', async () => {
    const { intent, framework } = await roadmap('Become a backend engineer', prefs('beginner', 4, { durationWeeks: 10 }));
    assert.equal(intent.durationWeeks, 10);
    const total = concepts(framework).reduce((n, c) => n + c.estimatedHours, 0);
    assert.ok(total <= 4 * 10 * 1.1, `total ${total} h for a 40 h budget`);
    assert.deepEqual(checkFramework(framework, intent), []);
  });

  for (const [goal, level, hours, expected] of [
    ['learn to bake sourdough bread', 'beginner', 4, /sourdough/],
    ['I want to become a data scientist', 'intermediate', 10, /data/],
    ['Learn machine learning with PyTorch', 'beginner', 10, /neural|machine/],
    ['Get into DevOps and Kubernetes', 'advanced', 15, /kubernetes/],
    ['Build iOS and Android apps', 'beginner', 6, /ui|app/],
    ['Become a penetration tester', 'intermediate', 8, /owasp|penetration/],
    ['Become a frontend developer', 'advanced', 12, /performance|rendering/],
    ['learn Spanish for travelling', 'beginner', 3, /spanish/],
    ['学习中文', 'beginner', 5, /./],
  ] as const) {
    it(`designs a well-formed curriculum for "${goal}" (${level}, ${hours} h/week)`, async () => {
      const { intent, framework } = await roadmap(goal, prefs(level, hours));
      assertWellFormed(framework, intent, goal);
      assert.match(concepts(framework).map((c) => c.id).join(' '), expected);
    });
  }

  it('builds a generic roadmap from the goal’s own words', async () => {
    const { intent, framework } = await roadmap('learn to bake sourdough bread', prefs('beginner', 4));
    assert.match(intent.domain, /sourdough bread/i);
    assert.ok(concepts(framework).some((c) => c.title === 'Sourdough essentials'));
    assert.match(framework.title, /sourdough bread/i);
  });

  it('validation reports valid iff checkFramework finds no error', async () => {
    const { intent, framework } = await roadmap('Become a backend engineer');
    const ok = (await offline.generate(PROMPTS.validation, { intent, framework })).output;
    assert.deepEqual(ok, { valid: true, issues: [] });

    const broken = structuredClone(framework);
    broken.stages[0]!.concepts[0]!.prerequisites = ['quantum-computing'];
    const report = (await offline.generate(PROMPTS.validation, { intent, framework: broken })).output;
    assert.equal(report.valid, false);
    assert.equal(report.issues[0]?.conceptId, 'programming-fundamentals');
    assert.match(report.issues[0]?.message ?? '', /unknown prerequisite "quantum-computing"/);
  });

  it('edit applies feedback: a requested topic appears as a concept, before the capstone', async () => {
    const { intent, framework } = await roadmap('Become a backend engineer');
    const edited = (await offline.generate(PROMPTS.edit, { intent, framework, issues: [], feedback: 'Please add a section on GraphQL APIs.' })).output;
    assert.notDeepEqual(edited, framework);
    const added = concepts(edited).find((c) => /graphql/i.test(c.title));
    assert.ok(added, 'a GraphQL concept was added');
    assert.equal(added.title, 'GraphQL APIs');
    const last = edited.stages.at(-1)!.concepts;
    assert.match(last.at(-1)!.title, /capstone/i, 'the capstone stays last');
    assertWellFormed(edited, intent, 'edited');
    // Unaffected concepts keep their ids.
    for (const c of concepts(framework)) assert.ok(concepts(edited).some((e) => e.id === c.id), c.id);
  });

  it('edit applies removal feedback and repairs the prerequisites that pointed at the removed concept', async () => {
    const { intent, framework } = await roadmap('Become a backend engineer');
    const edited = (await offline.generate(PROMPTS.edit, { intent, framework, issues: [], feedback: 'Remove Relational databases and SQL, we use a document store' })).output;
    assert.ok(!concepts(edited).some((c) => c.id === 'relational-databases-and-sql'));
    assertWellFormed(edited, intent, 'edited');
  });

  it('edit repairs what validation names: duplicates, bad prerequisites, too few concepts', async () => {
    const { intent, framework } = await roadmap('Become a backend engineer');
    const broken = structuredClone(framework);
    broken.stages = broken.stages.slice(0, 2);
    broken.stages[0]!.concepts = broken.stages[0]!.concepts.slice(0, 2);
    broken.stages[1]!.concepts = broken.stages[1]!.concepts.slice(0, 2);
    broken.stages[1]!.concepts[1]!.id = broken.stages[0]!.concepts[0]!.id; // duplicate id
    broken.stages[0]!.concepts[0]!.prerequisites = [broken.stages[1]!.concepts[0]!.id, 'nope']; // later + unknown
    const issues = checkFramework(broken, intent);
    assert.ok(issues.length >= 4);
    const edited = (await offline.generate(PROMPTS.edit, { intent, framework: broken, issues, feedback: null })).output;
    assertWellFormed(edited, intent, 'repaired');
  });

  it('writes a tutorial whose sections mention the concept and the goal', async () => {
    const { intent, framework } = await roadmap('Become a backend engineer');
    const stage = framework.stages[1]!;
    const concept = stage.concepts[1]!;
    const { output } = await offline.generate(PROMPTS.tutorial, { roadmapTitle: framework.title, intent, stage, concept });
    assert.ok(output.sections.length >= 3);
    const text = output.sections.map((s) => `${s.heading}\n${s.body}`).join('\n');
    assert.ok(text.includes(concept.title));
    assert.ok(text.includes(intent.goal));
    assert.equal(output.title, concept.title);
  });

  it('recommends resources with plausible URLs, marking placeholders', async () => {
    const { intent, framework } = await roadmap('Become a backend engineer');
    const stage = framework.stages[2]!;
    const concept = stage.concepts[0]!; // relational databases
    const { output } = await offline.generate(PROMPTS.resources, { roadmapTitle: framework.title, intent, stage, concept });
    assert.ok(output.resources.length >= 3);
    assert.equal(output.resources[0]?.url, 'https://www.postgresql.org/docs/current/');
    for (const r of output.resources) {
      const url = new URL(r.url);
      assert.equal(url.protocol, 'https:');
      if (url.hostname === 'example.org') assert.match(r.description, /placeholder/i);
    }
  });

  it('writes quizzes of 3 to 5 questions with the answer in range', async () => {
    const { intent, framework } = await roadmap('Become a backend engineer');
    const counts = new Set<number>();
    const positions = new Set<number>();
    for (const stage of framework.stages) {
      for (const concept of stage.concepts) {
        const { output } = await offline.generate(PROMPTS.quiz, { roadmapTitle: framework.title, intent, stage, concept });
        assert.ok(output.questions.length >= 3 && output.questions.length <= 5);
        counts.add(output.questions.length);
        for (const q of output.questions) {
          assert.ok(q.answerIndex >= 0 && q.answerIndex < q.options.length);
          assert.equal(new Set(q.options).size, q.options.length, 'options are distinct');
          positions.add(q.answerIndex);
        }
      }
    }
    assert.ok(counts.size > 1, 'question counts vary');
    assert.ok(positions.size > 1, 'the correct option is not always in the same place');
  });

  it('reports usage as ceil(chars / 4) of the rendered prompt and the output', async () => {
    const input = { goal: 'Become a backend engineer', preferences: prefs() };
    const result = await offline.generate(PROMPTS.intent_analysis, input);
    const { system, user } = PROMPTS.intent_analysis.render(input);
    assert.equal(result.usage.inputTokens, Math.ceil((system + user).length / 4));
    assert.equal(result.usage.outputTokens, Math.ceil(JSON.stringify(result.output).length / 4));
    assert.equal(result.provider, 'offline');
    assert.equal(result.model, 'offline-deterministic-1');
    assert.equal(result.promptVersion, 'intent_analysis@1');
  });

  it('simulates latency and is cancelled by an abort signal', async () => {
    const slow = new OfflineProvider({ latencyMs: 5_000 });
    const input = { goal: 'Become a backend engineer', preferences: prefs() };
    const controller = new AbortController();
    const started = performance.now();
    setTimeout(() => controller.abort(), 30);
    await assert.rejects(slow.generate(PROMPTS.intent_analysis, input, { signal: controller.signal }), (error: unknown) => {
      assert.ok(error instanceof AppError);
      assert.equal(error.code, 'CANCELLED');
      return true;
    });
    assert.ok(performance.now() - started < 1_000, 'the abort is honoured at once');

    const timed = await new OfflineProvider({ latencyMs: 40 }).generate(PROMPTS.intent_analysis, input);
    assert.ok(timed.latencyMs >= 35, `latency ${timed.latencyMs}`);
  });

  it('rejects an already-aborted call even without latency', async () => {
    await assert.rejects(
      offline.generate(PROMPTS.intent_analysis, { goal: 'x y z', preferences: prefs() }, { signal: AbortSignal.abort() }),
      { code: 'CANCELLED' },
    );
  });
});
