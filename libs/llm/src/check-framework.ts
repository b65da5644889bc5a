import type { Framework, IntentAnalysis, ValidationIssue } from '@roadmap/contracts';

/** Fewest concepts a roadmap may have. */
export const MIN_CONCEPTS = 8;
/** Stage sizes the curriculum prompt asks for; outside them is a warning, not an error. */
export const STAGE_SIZE = { min: 2, max: 6 } as const;
/** Total hours above budget × this factor is "far beyond" the learner's time. */
export const HOURS_TOLERANCE = 1.5;

/** Sum of estimatedHours over the framework. */
export function totalHours(framework: Framework): number {
  return framework.stages.reduce((sum, stage) => sum + stage.concepts.reduce((s, c) => s + c.estimatedHours, 0), 0);
}

/**
 * Deterministic structural checks of a framework, independent of any model: the workflow merges
 * these with the LLM's review, so a model that misses a dangling prerequisite cannot let it through.
 * Errors make a framework invalid; warnings are reported but do not.
 */
export function checkFramework(framework: Framework, intent?: IntentAnalysis): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const error = (message: string, conceptId: string | null = null) => issues.push({ severity: 'error', conceptId, message });
  const warning = (message: string, conceptId: string | null = null) => issues.push({ severity: 'warning', conceptId, message });

  const allIds = new Set(framework.stages.flatMap((stage) => stage.concepts.map((c) => c.id)));
  const earlier = new Set<string>();
  const stageIds = new Set<string>();
  let count = 0;

  for (const stage of framework.stages) {
    if (stageIds.has(stage.id)) error(`Stage id "${stage.id}" is used by more than one stage.`);
    stageIds.add(stage.id);
    if (stage.concepts.length === 0) error(`Stage "${stage.id}" has no concepts.`);
    else if (stage.concepts.length < STAGE_SIZE.min || stage.concepts.length > STAGE_SIZE.max)
      warning(`Stage "${stage.id}" has ${stage.concepts.length} concepts; stages should have ${STAGE_SIZE.min} to ${STAGE_SIZE.max}.`);

    for (const concept of stage.concepts) {
      count++;
      if (earlier.has(concept.id)) error(`Concept id "${concept.id}" is used by more than one concept.`, concept.id);
      for (const prerequisite of concept.prerequisites) {
        if (prerequisite === concept.id) error(`Concept "${concept.id}" lists itself as a prerequisite.`, concept.id);
        else if (!allIds.has(prerequisite))
          error(`Concept "${concept.id}" has an unknown prerequisite "${prerequisite}".`, concept.id);
        else if (!earlier.has(prerequisite))
          error(`Concept "${concept.id}" has prerequisite "${prerequisite}", which comes later in the roadmap.`, concept.id);
      }
      earlier.add(concept.id);
    }
  }

  if (count < MIN_CONCEPTS) error(`The roadmap has ${count} concepts; it needs at least ${MIN_CONCEPTS}.`);

  if (intent) {
    const budget = intent.hoursPerWeek * intent.durationWeeks;
    const total = totalHours(framework);
    if (total > budget * HOURS_TOLERANCE)
      warning(
        `The concepts add up to ${total} hours, far beyond the ${budget} hours available ` +
          `(${intent.hoursPerWeek} hours per week for ${intent.durationWeeks} weeks).`,
      );
  }
  return issues;
}
