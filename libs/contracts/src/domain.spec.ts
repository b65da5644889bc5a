import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CreateRoadmapRequestSchema } from './domain.js';
import { fieldIssues } from './errors.js';

describe('CreateRoadmapRequestSchema', () => {
  it('fills preferences and priority with their defaults', () => {
    const sut = CreateRoadmapRequestSchema.parse({ goal: '  Become a backend engineer ' });
    assert.deepEqual(sut, {
      goal: 'Become a backend engineer',
      preferences: { level: 'beginner', hoursPerWeek: 8, language: 'en' },
      priority: 'normal',
    });
  });

  it('names the field at fault, nested ones with a dotted path, and rejects unknown fields', () => {
    const result = CreateRoadmapRequestSchema.safeParse({ goal: 'ok', preferences: { hoursPerWeek: 200, colour: 'red' }, extra: 1 });
    assert.equal(result.success, false);
    const fields = fieldIssues(result.error!.issues).map((i) => i.field);
    assert.ok(fields.includes('goal'), 'goal is too short');
    assert.ok(fields.includes('preferences.hoursPerWeek'));
    assert.ok(fields.includes('preferences.colour'), `unknown nested key named: ${fields}`);
    assert.ok(fields.includes('extra'), `unknown top-level key named: ${fields}`);
  });
});
