import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Framework } from '@roadmap/contracts';
import { diffFrameworks } from './revision-diff.js';

const concept = (id: string, title = id) => ({ id, title, summary: `${title} summary`, estimatedHours: 4, prerequisites: [] as string[] });
const framework = (stages: Record<string, ReturnType<typeof concept>[]>): Framework => ({
  title: 'T',
  summary: 'S',
  stages: Object.entries(stages).map(([id, concepts]) => ({ id, title: id, goal: 'g', weeks: 2, concepts })),
});

describe(diffFrameworks.name, () => {
  it('lists every concept as added for the first revision', () => {
    const sut = diffFrameworks(null, framework({ a: [concept('x'), concept('y')] }));
    assert.deepEqual(sut.added.map((c) => c.id), ['x', 'y']);
    assert.deepEqual(sut.removed, []);
  });

  it('names added, removed and changed concepts with the fields that changed', () => {
    const before = framework({ a: [concept('x'), concept('y')], b: [concept('z')] });
    const after = framework({ a: [concept('x', 'X renamed')], b: [concept('z'), concept('graphql')], c: [concept('y')] });
    after.stages[1]!.concepts[0]!.prerequisites = ['x'];
    const sut = diffFrameworks(before, after);
    assert.deepEqual(sut.added, [{ id: 'graphql', title: 'graphql', stage: 'b' }]);
    assert.deepEqual(sut.removed, []);
    assert.deepEqual(
      sut.changed.map((c) => [c.id, c.fields]),
      [
        ['x', ['title', 'summary']],
        ['z', ['prerequisites']],
        ['y', ['stage']],
      ],
    );
    assert.deepEqual(diffFrameworks(after, before).removed.map((c) => c.id), ['graphql']);
  });
});
