import type { IntentAnalysis } from '@roadmap/contracts';
import type { IntentAnalysisInput } from '../prompts/registry.js';
import { designFramework, selectStages } from './framework.js';
import { resolveSubject } from './subject.js';
import { article, clamp, truncate } from './text.js';

/**
 * The offline `intent_analysis` step: the goal's domain from the catalogue (or its own words), the
 * learner's stated level and pace, a duration that fits the planned curriculum when none was given,
 * and focus areas from the stages the learner will get.
 */
export function analyseIntent({ goal, preferences }: IntentAnalysisInput): IntentAnalysis {
  const subject = resolveSubject(goal);
  const { level, hoursPerWeek } = preferences;
  const focusAreas = selectStages(subject, level, hoursPerWeek)
    .slice(0, 12)
    .map((stage) => truncate(stage.title, 120));
  const base: IntentAnalysis = {
    goal: truncate(goal, 500),
    domain: subject.label,
    targetRole: subject.role,
    level,
    hoursPerWeek,
    durationWeeks: 104,
    focusAreas,
    constraints: [],
  };
  // Without a requested duration, take the weeks the offline curriculum itself plans at this pace,
  // so the intent and the framework built from it agree.
  const durationWeeks =
    preferences.durationWeeks ?? clamp(designFramework(base).stages.reduce((n, stage) => n + stage.weeks, 0), 1, 104);
  const constraints = [
    `Time budget: ${hoursPerWeek} hours per week for ${durationWeeks} weeks`,
    level === 'beginner' ? 'Start from fundamentals: no prior experience assumed' : `Skip material ${article(level)} learner already knows`,
    preferences.background ? truncate(`Learner background: ${preferences.background}`, 300) : null,
    `Content language: ${preferences.language}`,
  ].filter((c): c is string => c !== null);
  return { ...base, durationWeeks, constraints };
}
