import type { Quiz, Resources, Tutorial } from '@roadmap/contracts';
import type { ContentInput } from '../prompts/registry.js';
import { subjectOfIntent } from './framework.js';
import type { Subject } from './subject.js';
import { article, capitalise, clamp, hash, pick, truncate } from './text.js';

/*
 * Offline tutorials, resources and quizzes: templates filled from the concept, its stage and the
 * learner's goal. Plausible and consistent, not insightful: they exist so the platform can run end to
 * end without a model, and so tests can check structure.
 */

/** A concrete thing to practise on, per domain. */
const PRACTICE_TARGET: Record<string, string> = {
  backend: 'a small HTTP service, for instance a to-do API with a PostgreSQL database',
  frontend: 'a small web page or component, for instance a searchable list of books',
  'machine-learning': 'a small public data set, for instance the Iris or MNIST data set',
  data: 'a public data set, for instance a city’s bike-share trips',
  devops: 'a small web application you build, ship and run yourself',
  mobile: 'a small app, for instance a habit tracker',
  security: 'a deliberately vulnerable lab such as OWASP Juice Shop, never a system you do not own',
};

function practiceTarget(subject: Subject): string {
  return (subject.domain && PRACTICE_TARGET[subject.domain.key]) ?? `a small, real piece of work in ${subject.topic}`;
}

const humanise = (id: string) => id.replace(/-/g, ' ');
const hoursText = (hours: number) => `${hours} hour${hours === 1 ? '' : 's'}`;

/** The offline `tutorial` step. */
export function writeTutorial(input: ContentInput): Tutorial {
  const { intent, stage, concept, roadmapTitle } = input;
  const subject = subjectOfIntent(intent);
  const target = practiceTarget(subject);
  const goal = truncate(intent.goal, 200);
  const key = `${concept.id}:${intent.goal}`;
  const prerequisites = concept.prerequisites.map(humanise);
  const levelAdvice = {
    beginner: 'Go slowly: make sure each idea works on a tiny example before combining it with the next.',
    intermediate: 'You have seen some of this before: focus on the parts you could not yet explain to someone else.',
    advanced: 'Skim what you know and spend your time on the edge cases and trade-offs.',
  }[intent.level];

  const sections = [
    {
      heading: `Why ${concept.title} matters`,
      body:
        `${concept.title} is part of the stage "${stage.title}" in the roadmap "${roadmapTitle}". ` +
        `For your goal — ${goal} — it is one of the building blocks ${article(subject.role.toLowerCase())} uses every week. ` +
        pick(
          [
            'Understanding it well makes the following concepts much easier to learn.',
            'Later concepts assume it, so time spent here pays back quickly.',
            'It is worth learning properly rather than just well enough to move on.',
          ],
          key,
        ),
    },
    {
      heading: 'Key ideas',
      body: `${concept.summary}\n\nTake the ideas one at a time: read about each, then try it on a small example before moving on. ${levelAdvice}`,
    },
    {
      heading: 'Before you start',
      body: prerequisites.length
        ? `This concept builds on ${prerequisites.join(', ')}. If any of these feel shaky, revisit them first: ${concept.title} will make more sense.`
        : `${concept.title} does not depend on anything earlier in this roadmap, so it is a good place to start.`,
    },
    {
      heading: 'A worked example',
      body:
        `Apply ${concept.title} to ${target}.\n\n` +
        `1. Decide on one small outcome that needs ${concept.title} and write it down.\n` +
        `2. Build the simplest version that achieves it, looking things up as you go.\n` +
        `3. Check the result against what you expected, and note anything that surprised you.\n` +
        `4. Change one thing and repeat, so you see how ${concept.title} behaves in a second situation.`,
    },
    {
      heading: 'Common pitfalls',
      body:
        `- Reading about ${concept.title} without practising it: understanding fades within days.\n` +
        `- Trying to learn everything about it at once instead of what this roadmap needs now.\n` +
        `- Copying a solution without being able to explain why it works.`,
    },
    {
      heading: 'Practice',
      body:
        `The roadmap plans about ${hoursText(concept.estimatedHours)} for ${concept.title}. ` +
        `Spend most of it practising on ${target}, and finish by explaining ${concept.title} in a few sentences of your own, as if to a colleague.`,
    },
  ];

  return {
    title: truncate(concept.title, 200),
    summary: truncate(
      `${concept.summary} This tutorial explains ${concept.title} for a ${intent.level} learner working towards "${goal}", as part of "${stage.title}".`,
      1500,
    ),
    estimatedMinutes: clamp(Math.round((concept.estimatedHours * 15) / 5) * 5, 10, 180),
    sections: sections.map((s) => ({ heading: truncate(s.heading, 200), body: truncate(s.body, 20000) })),
    keyTakeaways: [
      `${concept.title}: ${truncate(concept.summary, 300)}`,
      `Practise ${concept.title} on ${truncate(target, 200)}, not only by reading.`,
      `You understand ${concept.title} when you can explain it in your own words and use it in a new situation.`,
    ].map((t) => truncate(t, 400)),
  };
}

/** The offline `resources` step: real documentation home pages and search pages, plus one marked placeholder. */
export function recommendResources(input: ContentInput): Resources {
  const { intent, concept } = input;
  const subject = subjectOfIntent(intent);
  const about = `${concept.title} ${concept.summary}`;
  const query = encodeURIComponent(subject.domain ? concept.title : `${concept.title} ${subject.topic}`);
  const doc = subject.domain?.docs.find((d) => d.match.test(about));
  const resources: Resources['resources'] = [];
  if (doc) {
    resources.push({
      title: doc.title,
      url: doc.url,
      type: 'documentation',
      description: truncate(`Official reference material covering ${concept.title}; start from the sections on ${concept.title}.`, 1000),
      free: true,
    });
  } else {
    resources.push({
      title: truncate(`Books about ${concept.title}`, 300),
      url: `https://openlibrary.org/search?q=${query}`,
      type: 'book',
      description: truncate(`A search of Open Library for books on ${concept.title}; pick a well-reviewed introduction.`, 1000),
      free: true,
    });
  }
  resources.push(
    {
      title: truncate(`Wikipedia: ${concept.title}`, 300),
      url: `https://en.wikipedia.org/w/index.php?search=${query}`,
      type: 'article',
      description: truncate(`An encyclopedic overview of ${concept.title} with links to further reading (a search link).`, 1000),
      free: true,
    },
    {
      title: truncate(`Video tutorials on ${concept.title}`, 300),
      url: `https://www.youtube.com/results?search_query=${encodeURIComponent(`${concept.title} tutorial`)}`,
      type: 'video',
      description: truncate(`Video walkthroughs of ${concept.title} (a search link): choose a recent one that matches a ${intent.level} level.`, 1000),
      free: true,
    },
    {
      title: truncate(`Practice exercise: ${concept.title}`, 300),
      url: `https://example.org/roadmap/exercises/${concept.id}`,
      type: 'exercise',
      description: truncate(
        `Placeholder link (example.org) from the offline stand-in, not a real page. Suggested exercise: apply ${concept.title} to ${practiceTarget(subject)}.`,
        1000,
      ),
      free: true,
    },
  );
  return { resources };
}

interface Question {
  question: string;
  correct: string;
  wrong: string[];
  explanation: string;
}

/** The offline `quiz` step: 3 to 5 questions, the correct option at a position that varies by question. */
export function writeQuiz(input: ContentInput): Quiz {
  const { intent, stage, concept } = input;
  const subject = subjectOfIntent(intent);
  const title = concept.title;
  const hours = concept.estimatedHours;
  const first = concept.prerequisites[0];
  const bank: Question[] = [
    {
      question: `Which statement best describes ${title}?`,
      correct: truncate(concept.summary, 400),
      wrong: [
        `An optional topic with no connection to ${truncate(stage.title, 200)}.`,
        'A historical technique that is no longer used in practice.',
        'Something only needed after the whole roadmap is finished.',
      ],
      explanation: truncate(`${title} is about this: ${concept.summary}`, 1500),
    },
    {
      question: `In which stage of the roadmap is ${title} covered?`,
      correct: truncate(stage.title, 400),
      wrong: ['In a separate roadmap for experts', 'It is not part of this roadmap', 'Only in the final review week'],
      explanation: truncate(`${title} belongs to the stage "${stage.title}".`, 1500),
    },
    first
      ? {
          question: `Which concept does ${title} build on in this roadmap?`,
          correct: capitalise(first.replace(/-/g, ' ')),
          wrong: [`${title} itself`, 'A concept from a later stage', 'The capstone project'],
          explanation: truncate(`${title} lists ${concept.prerequisites.join(', ')} as its prerequisite(s): it comes after them.`, 1500),
        }
      : {
          question: `What do you need to know before starting ${title}?`,
          correct: 'Nothing earlier in this roadmap: it has no prerequisites',
          wrong: ['Every other concept in the roadmap', 'The capstone project', `An advanced course on ${title}`],
          explanation: `${title} has no prerequisites in this roadmap, so it can be started right away.`,
        },
    {
      question: `What is the most effective way to learn ${title}?`,
      correct: truncate(`Apply it to ${practiceTarget(subject)}, then review what went wrong`, 400),
      wrong: ['Read about it once and move on', 'Memorise definitions without trying them', 'Wait until a project forces you to learn it'],
      explanation: 'Active practice with feedback builds lasting skill; reading or memorising alone does not.',
    },
    {
      question: `About how much study time does the roadmap plan for ${title}?`,
      correct: `About ${hoursText(hours)}`,
      wrong: [`About ${hoursText(hours * 3)}`, `About ${hoursText(hours * 6 + 1)}`, 'Less than ten minutes'],
      explanation: `The roadmap estimates ${hoursText(hours)} for ${title} at a ${intent.level} level.`,
    },
  ];
  const key = `${concept.id}:${intent.goal}`;
  const count = 3 + (hash(key) % 3);
  return {
    questions: bank.slice(0, count).map((q, i) => {
      const answerIndex = hash(`${key}:${i}`) % (q.wrong.length + 1);
      const options = [...q.wrong];
      options.splice(answerIndex, 0, q.correct);
      return { question: truncate(q.question, 1000), options: options.map((o) => truncate(o, 400)), answerIndex, explanation: truncate(q.explanation, 1500) };
    }),
  };
}

