import type { Concept, Framework, IntentAnalysis, Level, Stage } from '@roadmap/contracts';
import { HOURS_TOLERANCE, MIN_CONCEPTS, STAGE_SIZE, totalHours } from '../check-framework.js';
import type { CatalogueConcept, CatalogueStage } from './catalogue.js';
import { resolveSubject, type Subject } from './subject.js';
import { article, capitalise, clamp, halfHours, isSlug, slugify, truncate, uniqueId } from './text.js';

/** Beginners need longer per concept; advanced learners move faster. */
const LEVEL_FACTOR: Record<Level, number> = { beginner: 1.25, intermediate: 1, advanced: 0.8 };
/** From this many hours a week a roadmap reaches one stage further. */
const GENEROUS_HOURS = 12;

/** The subject of an intent: its goal decides, its domain, role and focus areas break ties. */
export function subjectOfIntent(intent: IntentAnalysis): Subject {
  return resolveSubject(intent.goal, [intent.domain, intent.targetRole, ...intent.focusAreas].join(' '));
}

/**
 * The catalogue stages a learner gets, in catalogue order: beginners start with the foundations,
 * intermediate learners skip them and reach further, advanced learners start at the last core stage.
 * More hours a week reach one stage further. Earlier stages are added back until there is enough.
 */
export function selectStages(subject: Subject, level: Level, hoursPerWeek: number): CatalogueStage[] {
  const all = subject.stages;
  const indexes = (tier: CatalogueStage['tier']) => all.flatMap((s, i) => (s.tier === tier ? [i] : []));
  const [foundation, core, advanced] = [indexes('foundation'), indexes('core'), indexes('advanced')];
  const generous = hoursPerWeek >= GENEROUS_HOURS ? 1 : 0;
  const chosen = new Set<number>(
    level === 'beginner'
      ? [...foundation, ...core, ...advanced.slice(0, generous)]
      : level === 'intermediate'
        ? [...core, ...advanced.slice(0, 1 + generous)]
        : [...core.slice(-1), ...advanced],
  );
  const count = () => [...chosen].reduce((n, i) => n + (all[i]?.concepts.length ?? 0), 0);
  // One slot is kept for the capstone project.
  for (let i = Math.min(...chosen) - 1; count() < MIN_CONCEPTS - 1 && i >= 0; i--) chosen.add(i);
  for (let i = 0; count() < MIN_CONCEPTS - 1 && i < all.length; i++) chosen.add(i);
  return [...chosen].sort((a, b) => a - b).map((i) => all[i] as CatalogueStage);
}

const capstoneHours = (level: Level) => halfHours(10 * LEVEL_FACTOR[level]);

/**
 * The offline curriculum for an intent. Prerequisites: the first concept of a stage builds on the
 * last concept of the stage before; the others build on their stage's first concept; the capstone
 * builds on everything else in its stage. Hours are scaled down if they overrun the budget.
 */
export function designFramework(intent: IntentAnalysis): Framework {
  const subject = subjectOfIntent(intent);
  const selected = selectStages(subject, intent.level, intent.hoursPerWeek);
  const taken = new Set<string>();
  const stageIds = new Set<string>();
  let previousLast: string | null = null;

  const stages: Stage[] = selected.map((stage) => {
    const concepts: Concept[] = [];
    for (const entry of stage.concepts) {
      const first = concepts[0]?.id;
      concepts.push(toConcept(entry, taken, intent.level, first ? [first] : previousLast ? [previousLast] : []));
    }
    previousLast = concepts.at(-1)?.id ?? previousLast;
    return { id: uniqueId(slugify(stage.title), stageIds, 'stage'), title: truncate(stage.title, 160), goal: truncate(stage.goal, 600), weeks: 1, concepts };
  });

  const last = stages.at(-1) as Stage;
  const capstoneTitle = `${capitalise(subject.domain ? subject.role : subject.topic)} capstone project`;
  last.concepts.push({
    id: uniqueId(slugify(capstoneTitle), taken),
    title: truncate(capstoneTitle, 160),
    summary: truncate(`One project that brings the roadmap together and shows you can reach the goal: ${intent.goal}`, 1000),
    estimatedHours: capstoneHours(intent.level),
    prerequisites: last.concepts.map((c) => c.id).slice(0, 20),
  });

  const framework: Framework = {
    title: truncate(`${capitalise(subject.domain ? subject.role : subject.topic)} roadmap (${intent.level})`, 200),
    summary: '',
    stages: padConcepts(stages, subject.topic, intent.level),
  };
  fitToBudget(framework, intent);
  framework.summary = summarise(framework, intent);
  return framework;
}

function toConcept(entry: CatalogueConcept, taken: Set<string>, level: Level, prerequisites: string[]): Concept {
  return {
    id: uniqueId(slugify(entry.title), taken),
    title: truncate(entry.title, 160),
    summary: truncate(entry.summary, 1000),
    estimatedHours: halfHours(entry.hours * LEVEL_FACTOR[level]),
    prerequisites,
  };
}

function summarise(framework: Framework, intent: IntentAnalysis): string {
  const concepts = framework.stages.reduce((n, s) => n + s.concepts.length, 0);
  const weeks = framework.stages.reduce((n, s) => n + s.weeks, 0);
  const first = framework.stages[0]?.title ?? '';
  const last = framework.stages.at(-1)?.title ?? '';
  return truncate(
    `${capitalise(article(intent.level))} roadmap towards "${truncate(intent.goal, 300)}": ${framework.stages.length} stages and ${concepts} concepts, ` +
      `about ${totalHours(framework)} hours at ${intent.hoursPerWeek} hours per week (roughly ${weeks} weeks). ` +
      `It starts with ${first}${framework.stages.length > 1 ? ` and ends with ${last}` : ''}, finishing with a capstone project.`,
    2000,
  );
}

/**
 * Scales hours down to the learner's budget when the total overruns it by more than `tolerance`,
 * then sets each stage's weeks from its hours at the learner's pace.
 */
function fitToBudget(framework: Framework, intent: IntentAnalysis, tolerance = 1): void {
  const budget = intent.hoursPerWeek * intent.durationWeeks;
  const total = totalHours(framework);
  if (total > budget * tolerance) {
    const factor = budget / total;
    for (const stage of framework.stages) for (const concept of stage.concepts) concept.estimatedHours = halfHours(concept.estimatedHours * factor);
  }
  for (const stage of framework.stages) {
    const hours = stage.concepts.reduce((n, c) => n + c.estimatedHours, 0);
    stage.weeks = clamp(Math.ceil(hours / intent.hoursPerWeek), 1, 104);
  }
}

/** Generic consolidation concepts, used to reach the minimum concept count. */
function fillerTitles(topic: string): string[] {
  return [
    `Review of ${topic} so far`,
    `Independent practice in ${topic}`,
    `Reflecting on your progress in ${topic}`,
    `Planning your next steps in ${topic}`,
    `Explaining ${topic} in your own words`,
    `A second project in ${topic}`,
    `Revisiting weak spots in ${topic}`,
    `Peer review in ${topic}`,
  ];
}

/** Adds consolidation concepts (to stages with room, else a new stage) until there are enough. */
function padConcepts(stages: Stage[], topic: string, level: Level): Stage[] {
  const taken = new Set(stages.flatMap((s) => s.concepts.map((c) => c.id)));
  const stageIds = new Set(stages.map((s) => s.id));
  let count = stages.reduce((n, s) => n + s.concepts.length, 0);
  const titles = fillerTitles(truncate(topic, 80));
  for (let n = 0; count < MIN_CONCEPTS; n++) {
    let stage = [...stages].reverse().find((s) => s.concepts.length < STAGE_SIZE.max);
    if (!stage) {
      stage = {
        id: uniqueId('consolidation', stageIds),
        title: 'Consolidation',
        goal: truncate(`Consolidate what you learned about ${topic} through review and practice.`, 600),
        weeks: 1,
        concepts: [],
      };
      stages.push(stage);
    }
    const before = [...stages.slice(0, stages.indexOf(stage) + 1).flatMap((s) => s.concepts)].at(-1);
    const title = titles[n % titles.length] + (n >= titles.length ? ` (${Math.floor(n / titles.length) + 1})` : '');
    stage.concepts.push({
      id: uniqueId(slugify(title), taken),
      title: truncate(title, 160),
      summary: truncate(`Consolidation: ${title.charAt(0).toLowerCase()}${title.slice(1)}, so that earlier concepts stick before moving on.`, 1000),
      estimatedHours: halfHours(3 * LEVEL_FACTOR[level]),
      prerequisites: before ? [before.id] : [],
    });
    count++;
  }
  return stages;
}

/** What a reviewer's feedback asks for: concepts to remove, or a topic to add. */
function readFeedback(feedback: string, framework: Framework): { remove: Set<string>; add: string | null } {
  const text = feedback.toLowerCase();
  const remove = new Set<string>();
  if (/\b(remove|drop|skip|delete|without|leave out|cut)\b/.test(text)) {
    for (const stage of framework.stages)
      for (const concept of stage.concepts)
        if (text.includes(concept.title.toLowerCase()) || text.includes(concept.id)) remove.add(concept.id);
  }
  if (remove.size > 0) return { remove, add: null };
  let topic = feedback.replace(/\s+/g, ' ').trim();
  for (let before = ''; before !== topic; ) {
    before = topic;
    topic = topic
      .replace(/^(please|pls|kindly|also|and|maybe|perhaps|i think|i'd like|i would like|i want|we need|it needs|could you|can you|you should|should)[,\s]+/i, '')
      .replace(/^(add(ing)?|include|cover|teach( me)?|more( on| about)?|focus( more)?( on)?|emphasi[sz]e|a (bit|lot) more( on| about)?|expand( on)?)\s+/i, '')
      .replace(/^(an?|the|some)\s+((new|extra|separate|dedicated)\s+)?(concept|section|stage|topic|module|lesson|part)s?\s+(on|about|for|covering)\s+/i, '')
      .replace(/^(an?|the|some)\s+/i, '');
  }
  topic = topic.replace(/[.!?;,\s]+$/, '');
  return { remove, add: topic ? truncate(capitalise(topic), 150) : 'Topic requested by the reviewer' };
}

/**
 * The offline `edit` step: applies a reviewer's feedback (removing the concepts it names, or adding a
 * concept titled after what it asks for), then repairs every structural problem `checkFramework`
 * reports — duplicate ids, dangling or forward prerequisites, empty stages, too few concepts, hours
 * far over budget — so the result passes the structural checks whatever the issue list said.
 */
export function editFramework(input: { intent: IntentAnalysis; framework: Framework; feedback: string | null }): Framework {
  const { intent, feedback } = input;
  const framework = structuredClone(input.framework);
  const subject = subjectOfIntent(intent);

  if (feedback?.trim()) {
    const wish = readFeedback(feedback, framework);
    for (const stage of framework.stages) stage.concepts = stage.concepts.filter((c) => !wish.remove.has(c.id));
    if (wish.add) addRequestedConcept(framework, wish.add, feedback.trim(), intent);
  }

  // Empty stages go; duplicate ids get a suffix; prerequisites keep only earlier, existing concepts.
  framework.stages = framework.stages.filter((s) => s.concepts.length > 0);
  const taken = new Set<string>();
  const stageIds = new Set<string>();
  for (const stage of framework.stages) {
    stage.id = uniqueId(isSlug(stage.id) ? stage.id : slugify(stage.title), stageIds, 'stage');
    for (const concept of stage.concepts) {
      concept.id = uniqueId(isSlug(concept.id) ? concept.id : slugify(concept.title), taken);
      concept.prerequisites = [...new Set(concept.prerequisites)].filter((p) => p !== concept.id && taken.has(p)).slice(0, 20);
    }
  }
  framework.stages = padConcepts(framework.stages, subject.topic, intent.level);
  fitToBudget(framework, intent, HOURS_TOLERANCE);
  return framework;
}

/** Puts the requested concept in the last stage with room (before its capstone), else a new stage. */
function addRequestedConcept(framework: Framework, title: string, feedback: string, intent: IntentAnalysis): void {
  const ids = new Set(framework.stages.flatMap((s) => s.concepts.map((c) => c.id)));
  const id = slugify(title) || 'requested-topic';
  if (ids.has(id)) return; // already applied: feedback repeated verbatim changes nothing more
  let stage = [...framework.stages].reverse().find((s) => s.concepts.length < STAGE_SIZE.max);
  if (!stage) {
    stage = { id: 'requested-additions', title: 'Requested additions', goal: 'Topics added at a reviewer’s request.', weeks: 1, concepts: [] };
    framework.stages.push(stage);
  }
  const capstone = stage.concepts.findIndex((c) => /capstone/i.test(c.title));
  const at = capstone >= 0 ? capstone : stage.concepts.length;
  const before = framework.stages.slice(0, framework.stages.indexOf(stage)).flatMap((s) => s.concepts).concat(stage.concepts.slice(0, at)).at(-1);
  stage.concepts.splice(at, 0, {
    id,
    title,
    summary: truncate(`Added at a reviewer's request ("${truncate(feedback, 300)}"): ${title} in the context of ${truncate(intent.goal, 300)}.`, 1000),
    estimatedHours: halfHours(4 * LEVEL_FACTOR[intent.level]),
    prerequisites: before ? [before.id] : [],
  });
  if (capstone >= 0) {
    const cap = stage.concepts[capstone + 1];
    if (cap && !cap.prerequisites.includes(id) && cap.prerequisites.length < 20) cap.prerequisites.push(id);
  }
}
