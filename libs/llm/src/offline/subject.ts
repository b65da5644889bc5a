import { DOMAINS, genericStages, type CatalogueStage, type Domain } from './catalogue.js';
import { capitalise, gerund, keywords, truncate } from './text.js';

/** What a roadmap is about, as the offline provider understands it. */
export interface Subject {
  /** The catalogue domain, or null for a goal built from its own words. */
  readonly domain: Domain | null;
  /** A short noun phrase for the subject ("backend software engineering", "baking sourdough bread"). */
  readonly topic: string;
  readonly label: string;
  readonly role: string;
  readonly stages: readonly CatalogueStage[];
}

/** Leading phrases that say "I want to learn" rather than what. `infinitive` means a verb follows. */
const LEADS: ReadonlyArray<{ re: RegExp; infinitive: boolean; become?: boolean }> = [
  { re: /^(i\s+)?(want|would like|'d like|need|wish|hope|plan)\s+to\s+/i, infinitive: false },
  { re: /^(learn(ing)?|study(ing)?|understand(ing)?|master(ing)?|practi[sc]e|teach me)\s+(how\s+)?to\s+/i, infinitive: true },
  { re: /^how\s+to\s+/i, infinitive: true },
  { re: /^(get(ting)?|become|be)\s+(good|better|great|fluent|proficient|confident)\s+(at|in|with)\s+/i, infinitive: false },
  { re: /^(become|becoming|be|work as|get a job as|turn into)\s+/i, infinitive: false, become: true },
  { re: /^(learn(ing)?|study(ing)?|understand(ing)?|master(ing)?|improve(\s+my)?|start(ing)?(\s+with)?|explore|get into)\s+/i, infinitive: false },
];

/** Reduces a goal to its subject: "I want to learn to bake sourdough bread." -> "baking sourdough bread". */
export function goalSubject(goal: string): { topic: string; become: boolean } {
  let text = goal.replace(/\s+/g, ' ').trim().replace(/[.!?]+$/, '');
  let become = false;
  let verbFollows = false;
  for (let changed = true; changed; ) {
    changed = false;
    for (const lead of LEADS) {
      const next = text.replace(lead.re, '');
      if (next !== text && next.length > 0) {
        text = next;
        changed = true;
        become ||= lead.become === true;
        verbFollows = lead.infinitive;
      }
    }
  }
  text = text.replace(/^(an?|the)\s+/i, '');
  if (verbFollows) {
    const [verb, ...rest] = text.split(' ');
    if (verb && /^[a-z]+$/i.test(verb)) text = [gerund(verb), ...rest].join(' ');
  }
  // A goal that is just the subject starts with a sentence capital ("Sourdough baking"): lower it so
  // it reads well mid-sentence. After a stripped lead the learner's own casing ("learn Spanish") stays.
  const stripped = text !== goal.trim().replace(/[.!?]+$/, '');
  if (!stripped && /^[A-Z][a-z]+( [a-z]|$)/.test(text)) text = text.charAt(0).toLowerCase() + text.slice(1);
  return { topic: truncate(text, 70), become };
}

/** The catalogue domain whose keywords the text matches most; ties go to the earlier domain. */
export function detectDomain(goal: string, extra = ''): Domain | null {
  const primary = goal.toLowerCase();
  const secondary = extra.toLowerCase();
  let best: Domain | null = null;
  let bestScore = 0;
  for (const domain of DOMAINS) {
    const score = domain.keywords.reduce((sum, re) => sum + (re.test(primary) ? 2 : 0) + (re.test(secondary) ? 1 : 0), 0);
    if (score > bestScore) {
      best = domain;
      bestScore = score;
    }
  }
  return best;
}

/** Works out the subject from a goal, and from an intent's domain and role when one exists. */
export function resolveSubject(goal: string, extra = ''): Subject {
  const domain = detectDomain(goal, extra);
  const { topic, become } = goalSubject(goal);
  if (domain) {
    // "Become a data scientist" names the role better than the catalogue's generic one.
    const role = become && topic.length <= 60 ? capitalise(topic) : domain.role;
    return { domain, topic: domain.label.toLowerCase(), label: domain.label, role, stages: domain.stages };
  }
  const words = keywords(topic);
  return {
    domain: null,
    topic,
    label: truncate(capitalise(topic), 120),
    role: truncate(become ? capitalise(topic) : `Practitioner of ${topic}`, 120),
    stages: genericStages(become ? `${topic} work` : topic, words),
  };
}
