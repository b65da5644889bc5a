import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Concept, Framework, IntentAnalysis } from '@roadmap/contracts';
import { checkFramework } from './check-framework.js';

const concept = (id: string, prerequisites: string[] = [], estimatedHours = 4): Concept => ({ id, title: id, summary: `About ${id}`, estimatedHours, prerequisites });

/** A valid framework: 2 stages of 4 concepts, each building on the one before. */
function valid(): Framework {
  const ids = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
  const all = ids.map((id, i) => concept(id, i ? [ids[i - 1]!] : []));
  return {
    title: 'T',
    summary: 'S',
    stages: [
      { id: 's1', title: 'One', goal: 'g', weeks: 2, concepts: all.slice(0, 4) },
      { id: 's2', title: 'Two', goal: 'g', weeks: 2, concepts: all.slice(4) },
    ],
  };
}

const intent: IntentAnalysis = {
  goal: 'g',
  domain: 'd',
  targetRole: 'r',
  level: 'beginner',
  hoursPerWeek: 4,
  durationWeeks: 8,
  focusAreas: ['x'],
  constraints: [],
};

describe('checkFramework', () => {
  it('finds nothing wrong with a valid framework', () => {
    assert.deepEqual(checkFramework(valid(), intent), []);
  });

  it('finds duplicate concept ids', () => {
    const f = valid();
    f.stages[1]!.concepts[0]!.id = 'b';
    const issues = checkFramework(f);
    assert.ok(issues.some((i) => i.severity === 'error' && i.conceptId === 'b' && /more than one concept/.test(i.message)));
  });

  it('finds unknown prerequisites', () => {
    const f = valid();
    f.stages[0]!.concepts[1]!.prerequisites = ['ghost'];
    assert.deepEqual(checkFramework(f), [{ severity: 'error', conceptId: 'b', message: 'Concept "b" has an unknown prerequisite "ghost".' }]);
  });

  it('finds prerequisites that come later, and self-references', () => {
    const f = valid();
    f.stages[0]!.concepts[0]!.prerequisites = ['h'];
    f.stages[0]!.concepts[2]!.prerequisites = ['c'];
    const issues = checkFramework(f);
    assert.ok(issues.some((i) => i.conceptId === 'a' && /"h", which comes later/.test(i.message)));
    assert.ok(issues.some((i) => i.conceptId === 'c' && /lists itself/.test(i.message)));
    assert.ok(issues.every((i) => i.severity === 'error'));
  });

  it('finds too few concepts', () => {
    const f = valid();
    f.stages[1]!.concepts = f.stages[1]!.concepts.slice(0, 3);
    const issues = checkFramework(f);
    assert.deepEqual(issues, [{ severity: 'error', conceptId: null, message: 'The roadmap has 7 concepts; it needs at least 8.' }]);
  });

  it('finds empty stages', () => {
    const f = valid();
    f.stages.push({ id: 's3', title: 'Three', goal: 'g', weeks: 1, concepts: [] });
    assert.ok(checkFramework(f).some((i) => i.severity === 'error' && /Stage "s3" has no concepts/.test(i.message)));
  });

  it('finds duplicate stage ids', () => {
    const f = valid();
    f.stages[1]!.id = 's1';
    assert.ok(checkFramework(f).some((i) => i.severity === 'error' && /Stage id "s1"/.test(i.message)));
  });

  it('warns, without failing, about stages outside 2 to 6 concepts', () => {
    const f = valid();
    f.stages[0]!.concepts.push(...[1, 2, 3].map((n) => concept(`x${n}`)));
    const issues = checkFramework(f);
    assert.deepEqual(issues.map((i) => i.severity), ['warning']);
    assert.match(issues[0]!.message, /7 concepts; stages should have 2 to 6/);
  });

  it('warns when total hours are far beyond the learner’s budget, only with an intent', () => {
    const f = valid();
    for (const c of f.stages.flatMap((s) => s.concepts)) c.estimatedHours = 10; // 80 h for a 32 h budget
    assert.deepEqual(checkFramework(f), []);
    const issues = checkFramework(f, intent);
    assert.equal(issues.length, 1);
    assert.equal(issues[0]!.severity, 'warning');
    assert.match(issues[0]!.message, /80 hours, far beyond the 32 hours available/);
    // Within tolerance is fine.
    for (const c of f.stages.flatMap((s) => s.concepts)) c.estimatedHours = 5; // 40 h
    assert.deepEqual(checkFramework(f, intent), []);
  });
});
