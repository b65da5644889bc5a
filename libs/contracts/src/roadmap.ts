import { z } from 'zod';

/*
 * What the LLM produces at each step. Every field is required (nullable where optional) and every
 * object is strict, so the same schemas serve as OpenAI `json_schema` strict response formats.
 */

const slug = z.string().min(1).max(80).regex(/^[a-z0-9][a-z0-9-]*$/, 'lower-case slug: a-z, 0-9 and -');

export const IntentAnalysisSchema = z.strictObject({
  goal: z.string().min(1).max(500),
  domain: z.string().min(1).max(120),
  targetRole: z.string().min(1).max(120),
  level: z.enum(['beginner', 'intermediate', 'advanced']),
  hoursPerWeek: z.number().int().min(1).max(80),
  durationWeeks: z.number().int().min(1).max(104),
  focusAreas: z.array(z.string().min(1).max(120)).min(1).max(12),
  constraints: z.array(z.string().min(1).max(300)).max(12),
});
export type IntentAnalysis = z.infer<typeof IntentAnalysisSchema>;

export const ConceptSchema = z.strictObject({
  id: slug,
  title: z.string().min(1).max(160),
  summary: z.string().min(1).max(1000),
  estimatedHours: z.number().min(0.5).max(200),
  prerequisites: z.array(slug).max(20),
});
export type Concept = z.infer<typeof ConceptSchema>;

export const StageSchema = z.strictObject({
  id: slug,
  title: z.string().min(1).max(160),
  goal: z.string().min(1).max(600),
  weeks: z.number().int().min(1).max(104),
  concepts: z.array(ConceptSchema).min(1).max(20),
});
export type Stage = z.infer<typeof StageSchema>;

/** The roadmap's framework: stages of concepts. */
export const FrameworkSchema = z.strictObject({
  title: z.string().min(1).max(200),
  summary: z.string().min(1).max(2000),
  stages: z.array(StageSchema).min(1).max(12),
});
export type Framework = z.infer<typeof FrameworkSchema>;

export const ValidationIssueSchema = z.strictObject({
  severity: z.enum(['error', 'warning']),
  conceptId: slug.nullable(),
  message: z.string().min(1).max(600),
});
export type ValidationIssue = z.infer<typeof ValidationIssueSchema>;

export const ValidationReportSchema = z.strictObject({
  valid: z.boolean(),
  issues: z.array(ValidationIssueSchema).max(50),
});
export type ValidationReport = z.infer<typeof ValidationReportSchema>;

export const TutorialSchema = z.strictObject({
  title: z.string().min(1).max(200),
  summary: z.string().min(1).max(1500),
  estimatedMinutes: z.number().int().min(1).max(600),
  sections: z
    .array(z.strictObject({ heading: z.string().min(1).max(200), body: z.string().min(1).max(20000) }))
    .min(1)
    .max(20),
  keyTakeaways: z.array(z.string().min(1).max(400)).min(1).max(12),
});
export type Tutorial = z.infer<typeof TutorialSchema>;

export const RESOURCE_TYPES = ['article', 'video', 'book', 'course', 'documentation', 'exercise'] as const;
export const ResourcesSchema = z.strictObject({
  resources: z
    .array(
      z.strictObject({
        title: z.string().min(1).max(300),
        url: z.string().min(1).max(2000),
        type: z.enum(RESOURCE_TYPES),
        description: z.string().min(1).max(1000),
        free: z.boolean(),
      }),
    )
    .min(1)
    .max(20),
});
export type Resources = z.infer<typeof ResourcesSchema>;

export const QuizSchema = z.strictObject({
  questions: z
    .array(
      z.strictObject({
        question: z.string().min(1).max(1000),
        options: z.array(z.string().min(1).max(400)).min(2).max(6),
        answerIndex: z.number().int().min(0).max(5),
        explanation: z.string().min(1).max(1500),
      }),
    )
    .min(1)
    .max(20),
});
export type Quiz = z.infer<typeof QuizSchema>;

/** The content schema for each kind of item. */
export const CONTENT_SCHEMAS = {
  tutorial: TutorialSchema,
  resources: ResourcesSchema,
  quiz: QuizSchema,
} as const;
export type ContentByKind = { tutorial: Tutorial; resources: Resources; quiz: Quiz };
