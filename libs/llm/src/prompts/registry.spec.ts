import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { Framework, IntentAnalysis } from '@roadmap/contracts';
import { CONTENT_KINDS } from '@roadmap/contracts';
import { PROMPTS, contentPrompt, type PromptInputs, type PromptName } from './registry.js';
import { fill, parseTemplate } from './template.js';

const intent: IntentAnalysis = {
  goal: 'Become a backend engineer',
  domain: 'Backend software engineering',
  targetRole: 'Backend engineer',
  level: 'beginner',
  hoursPerWeek: 8,
  durationWeeks: 15,
  focusAreas: ['APIs', 'Databases'],
  constraints: ['Content language: fr'],
};
const concept = { id: 'rest-api-design', title: 'REST API design', summary: 'Resources and verbs.', estimatedHours: 6, prerequisites: ['http-basics'] };
const framework: Framework = {
  title: 'Backend roadmap',
  summary: 'A path.',
  stages: [{ id: 'apis', title: 'APIs', goal: 'Build APIs', weeks: 2, concepts: [concept] }],
};
const content = { roadmapTitle: 'Backend roadmap', intent, stage: { id: 'apis', title: 'APIs' }, concept };

const SAMPLES: { [N in PromptName]: PromptInputs[N] } = {
  intent_analysis: { goal: 'Become a backend engineer', preferences: { level: 'beginner', hoursPerWeek: 8, language: 'en' } },
  curriculum_design: { intent },
  validation: { intent, framework },
  edit: { intent, framework, issues: [{ severity: 'error', conceptId: 'rest-api-design', message: 'Unknown prerequisite' }], feedback: 'Add GraphQL' },
  tutorial: content,
  resources: content,
  quiz: content,
};

describe('PROMPTS', () => {
  it('has exactly the seven steps, each with a versioned template file', () => {
    assert.deepEqual(Object.keys(PROMPTS).sort(), ['curriculum_design', 'edit', 'intent_analysis', 'quiz', 'resources', 'tutorial', 'validation']);
    const files = readdirSync(new URL('.', import.meta.url)).filter((f) => f.endsWith('.md'));
    for (const prompt of Object.values(PROMPTS)) {
      assert.match(prompt.version, new RegExp(`^${prompt.name}@\\d+$`));
      const n = prompt.version.split('@')[1];
      assert.ok(files.includes(`${prompt.name}.v${n}.md`), `${prompt.name}.v${n}.md is beside the compiled registry`);
    }
  });

  for (const name of Object.keys(SAMPLES) as PromptName[]) {
    it(`renders ${name} with no leftover placeholder, ending with the input as a JSON block`, () => {
      const prompt = PROMPTS[name] as (typeof PROMPTS)[PromptName];
      const input = SAMPLES[name];
      const { system, user } = (prompt.render as (i: unknown) => { system: string; user: string })(input);
      assert.ok(system.length > 200 && user.length > 50);
      assert.ok(!system.includes('{{') && !user.includes('{{'), 'no {{ left');
      assert.ok(!system.includes('<!--'), 'maintainer notes are not sent');
      const block = /```json\n([\s\S]*)\n```$/.exec(user);
      assert.ok(block, 'user message ends with a fenced JSON block');
      assert.deepEqual(JSON.parse(block[1]!), input);
    });
  }

  it('puts the step’s facts into the messages', () => {
    const { user } = PROMPTS.intent_analysis.render(SAMPLES.intent_analysis);
    assert.match(user, /Goal: Become a backend engineer/);
    assert.match(user, /Hours per week: 8/);
    const edit = PROMPTS.edit.render(SAMPLES.edit);
    assert.match(edit.user, /- \[error\] rest-api-design: Unknown prerequisite/);
    assert.match(edit.user, /Reviewer feedback: Add GraphQL/);
    const design = PROMPTS.curriculum_design.render(SAMPLES.curriculum_design);
    assert.match(design.system, /about 120 hours/);
    assert.match(PROMPTS.tutorial.render(content).system, /Write in fr\./, 'content language comes from the intent constraints');
  });

  it('does not expand placeholders inside values (a goal with braces stays as typed)', () => {
    const { user } = PROMPTS.intent_analysis.render({ goal: 'learn {{input}} templating', preferences: SAMPLES.intent_analysis.preferences });
    assert.match(user, /Goal: learn \{\{input\}\} templating/);
  });

  it('contentPrompt maps each content kind to its prompt', () => {
    for (const kind of CONTENT_KINDS) assert.equal(contentPrompt(kind), PROMPTS[kind]);
  });
});

describe('prompt templates', () => {
  it('rejects a template without both sections or without the trailing input block', () => {
    assert.throws(() => parseTemplate('## system\nhi', 'x.v1.md'), /needs a "## system" and a "## user" section/);
    assert.throws(() => parseTemplate('## system\nhi\n## user\nno block', 'x.v1.md'), /must end with/);
    const ok = parseTemplate('notes\n## system\nS {{a}}\n## user\nU\n```json\n{{input}}\n```\n', 'x.v1.md');
    assert.equal(ok.system, 'S {{a}}');
  });

  it('fails loudly on a placeholder with no value', () => {
    assert.throws(() => fill('Hello {{name}}', {}, 'x.v1.md'), /no value for \{\{name\}\}/);
    assert.equal(fill('Hello {{ name }}', { name: 'you' }, 'x.v1.md'), 'Hello you');
  });
});
