import type { z } from 'zod';
import {
  CONTENT_SCHEMAS,
  FrameworkSchema,
  IntentAnalysisSchema,
  ValidationReportSchema,
  type Concept,
  type ContentByKind,
  type ContentKind,
  type Framework,
  type IntentAnalysis,
  type Preferences,
  type ValidationIssue,
  type ValidationReport,
} from '@roadmap/contracts';
import { fill, loadTemplate } from './template.js';

/** The LLM steps, one prompt each. */
export type PromptName = 'intent_analysis' | 'curriculum_design' | 'validation' | 'edit' | 'tutorial' | 'resources' | 'quiz';

/** A versioned prompt: renders its typed input into messages and validates the typed output. */
export interface PromptDefinition<I, O> {
  readonly name: PromptName;
  /** `<name>@<N>`, recorded with every result so outputs can be traced to the template that made them. */
  readonly version: string;
  readonly schema: z.ZodType<O>;
  render(input: I): { system: string; user: string };
}

export interface IntentAnalysisInput {
  goal: string;
  preferences: Preferences;
}
export interface CurriculumDesignInput {
  intent: IntentAnalysis;
}
export interface ValidationInput {
  intent: IntentAnalysis;
  framework: Framework;
}
export interface EditInput {
  intent: IntentAnalysis;
  framework: Framework;
  issues: ValidationIssue[];
  /** A human reviewer's revision request, or null when only validation issues are fixed. */
  feedback: string | null;
}
/** Input of the three per-concept content prompts. */
export interface ContentInput {
  roadmapTitle: string;
  intent: IntentAnalysis;
  stage: { id: string; title: string };
  concept: Concept;
}

/** Input type of each prompt. */
export interface PromptInputs {
  intent_analysis: IntentAnalysisInput;
  curriculum_design: CurriculumDesignInput;
  validation: ValidationInput;
  edit: EditInput;
  tutorial: ContentInput;
  resources: ContentInput;
  quiz: ContentInput;
}
/** Output type of each prompt. */
export interface PromptOutputs {
  intent_analysis: IntentAnalysis;
  curriculum_design: Framework;
  validation: ValidationReport;
  edit: Framework;
  tutorial: ContentByKind['tutorial'];
  resources: ContentByKind['resources'];
  quiz: ContentByKind['quiz'];
}

/**
 * Loads `<name>.v<version>.md` now (module load, i.e. service start-up: a missing or malformed template
 * fails fast) and returns a definition whose render fills the template from `vars(input)` plus the
 * input itself as JSON.
 */
function definePrompt<N extends PromptName>(
  name: N,
  version: number,
  schema: z.ZodType<PromptOutputs[N]>,
  vars: (input: PromptInputs[N]) => Record<string, string>,
): PromptDefinition<PromptInputs[N], PromptOutputs[N]> {
  const template = loadTemplate(name, version);
  return {
    name,
    version: `${name}@${version}`,
    schema,
    render(input) {
      const values = { ...vars(input), input: JSON.stringify(input, null, 2) };
      return { system: fill(template.system, values, template.file), user: fill(template.user, values, template.file) };
    },
  };
}

const list = (items: readonly string[], empty = 'none') => (items.length ? items.join('; ') : empty);
const budget = (intent: IntentAnalysis) => String(intent.hoursPerWeek * intent.durationWeeks);
const totalHours = (framework: Framework) =>
  String(framework.stages.reduce((sum, stage) => sum + stage.concepts.reduce((s, c) => s + c.estimatedHours, 0), 0));

/** The content language asked for in the intent's constraints (the intent schema has no field for it). */
export function contentLanguage(intent: IntentAnalysis): string {
  for (const constraint of intent.constraints) {
    const match = /\blanguage\b[^:]*:\s*([\p{L}\p{N}-]{2,35})/iu.exec(constraint);
    if (match?.[1]) return match[1];
  }
  return "the language of the learner's goal";
}

function intentVars(intent: IntentAnalysis): Record<string, string> {
  return {
    goal: intent.goal,
    domain: intent.domain,
    targetRole: intent.targetRole,
    level: intent.level,
    hoursPerWeek: String(intent.hoursPerWeek),
    durationWeeks: String(intent.durationWeeks),
    budgetHours: budget(intent),
    focusAreas: list(intent.focusAreas),
    constraints: list(intent.constraints),
    language: contentLanguage(intent),
  };
}

function contentVars(input: ContentInput): Record<string, string> {
  return {
    ...intentVars(input.intent),
    roadmapTitle: input.roadmapTitle,
    stageTitle: input.stage.title,
    conceptTitle: input.concept.title,
    conceptSummary: input.concept.summary,
    conceptHours: String(input.concept.estimatedHours),
    prerequisites: list(input.concept.prerequisites, 'nothing earlier in the roadmap'),
  };
}

/** Every prompt, by name. Bumping a template means adding `<name>.v<N+1>.md` and changing the number here. */
export const PROMPTS: { readonly [N in PromptName]: PromptDefinition<PromptInputs[N], PromptOutputs[N]> } = {
  intent_analysis: definePrompt('intent_analysis', 1, IntentAnalysisSchema, ({ goal, preferences }) => ({
    goal,
    level: preferences.level,
    hoursPerWeek: String(preferences.hoursPerWeek),
    duration: preferences.durationWeeks ? `${preferences.durationWeeks} weeks` : 'not given',
    durationRule: preferences.durationWeeks
      ? `the learner asked for ${preferences.durationWeeks} weeks: use that.`
      : 'the learner gave none: estimate the weeks a realistic roadmap for this goal and level needs at their hours per week.',
    background: preferences.background || 'not given',
    language: preferences.language,
  })),
  curriculum_design: definePrompt('curriculum_design', 1, FrameworkSchema, ({ intent }) => intentVars(intent)),
  validation: definePrompt('validation', 1, ValidationReportSchema, ({ intent, framework }) => ({
    ...intentVars(intent),
    frameworkTitle: framework.title,
    stageCount: String(framework.stages.length),
    conceptCount: String(framework.stages.reduce((n, s) => n + s.concepts.length, 0)),
    totalHours: totalHours(framework),
  })),
  edit: definePrompt('edit', 1, FrameworkSchema, ({ intent, framework, issues, feedback }) => ({
    ...intentVars(intent),
    frameworkTitle: framework.title,
    issueCount: String(issues.length),
    issueList: issues.length
      ? issues.map((i) => `- [${i.severity}]${i.conceptId ? ` ${i.conceptId}:` : ''} ${i.message}`).join('\n')
      : '- none',
    feedback: feedback?.trim() ? feedback.trim() : 'none',
  })),
  tutorial: definePrompt('tutorial', 1, CONTENT_SCHEMAS.tutorial, contentVars),
  resources: definePrompt('resources', 1, CONTENT_SCHEMAS.resources, contentVars),
  quiz: definePrompt('quiz', 1, CONTENT_SCHEMAS.quiz, contentVars),
};

/** The prompt that generates content of `kind` for one concept. */
export function contentPrompt<K extends ContentKind>(kind: K): PromptDefinition<ContentInput, ContentByKind[K]> {
  return PROMPTS[kind] as unknown as PromptDefinition<ContentInput, ContentByKind[K]>;
}

/** Whether `name` is a known prompt (e.g. a name read from a request). */
export function isPromptName(name: unknown): name is PromptName {
  return typeof name === 'string' && Object.hasOwn(PROMPTS, name);
}
