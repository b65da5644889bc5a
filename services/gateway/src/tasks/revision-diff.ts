import type { Concept, Framework } from '@roadmap/contracts';

/** What changed between two framework revisions, concept by concept (matched by id). */
export interface RevisionDiff {
  added: Array<{ id: string; title: string; stage: string }>;
  removed: Array<{ id: string; title: string; stage: string }>;
  changed: Array<{ id: string; title: string; fields: string[] }>;
}

function conceptsById(framework: Framework | null): Map<string, { concept: Concept; stage: string }> {
  const map = new Map<string, { concept: Concept; stage: string }>();
  for (const stage of framework?.stages ?? []) for (const concept of stage.concepts) map.set(concept.id, { concept, stage: stage.id });
  return map;
}

/** Compares `next` with `previous` (null for the first revision: everything is added). */
export function diffFrameworks(previous: Framework | null, next: Framework): RevisionDiff {
  const before = conceptsById(previous);
  const after = conceptsById(next);
  const diff: RevisionDiff = { added: [], removed: [], changed: [] };
  for (const [id, { concept, stage }] of after) {
    const old = before.get(id);
    if (!old) {
      diff.added.push({ id, title: concept.title, stage });
      continue;
    }
    const fields: string[] = [];
    if (old.stage !== stage) fields.push('stage');
    for (const field of ['title', 'summary', 'estimatedHours'] as const) if (old.concept[field] !== concept[field]) fields.push(field);
    if (JSON.stringify(old.concept.prerequisites) !== JSON.stringify(concept.prerequisites)) fields.push('prerequisites');
    if (fields.length) diff.changed.push({ id, title: concept.title, fields });
  }
  for (const [id, { concept, stage }] of before) if (!after.has(id)) diff.removed.push({ id, title: concept.title, stage });
  return diff;
}
