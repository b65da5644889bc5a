import { readFileSync } from 'node:fs';

/*
 * Prompt templates are Markdown files beside this module (`<name>.v<N>.md`, copied to dist by the
 * build). A file has a `## system` and a `## user` section; anything before `## system` is notes for
 * maintainers and is not sent. `{{name}}` placeholders are filled in one pass, so a value that itself
 * contains braces (a learner's goal) is never expanded again.
 */

/** A parsed template: the raw system and user sections, placeholders unfilled. */
export interface PromptTemplate {
  readonly file: string;
  readonly system: string;
  readonly user: string;
}

const SECTION = /^## (system|user)[ \t]*$/gm;
const PLACEHOLDER = /\{\{\s*([A-Za-z_]\w*)\s*\}\}/g;
/** The user message must end with the step input as a fenced JSON block: models and the fake server read it. */
const INPUT_BLOCK = /```json\n\{\{input\}\}\n```$/;

export function parseTemplate(text: string, file: string): PromptTemplate {
  const sections = new Map<string, string>();
  const marks = [...text.matchAll(SECTION)];
  marks.forEach((mark, i) => {
    const start = (mark.index ?? 0) + mark[0].length;
    const end = marks[i + 1]?.index ?? text.length;
    sections.set(mark[1] as string, text.slice(start, end).trim());
  });
  const system = sections.get('system');
  const user = sections.get('user');
  if (!system || !user) throw new Error(`prompt template ${file}: needs a "## system" and a "## user" section`);
  if (!INPUT_BLOCK.test(user)) throw new Error(`prompt template ${file}: the user section must end with a \`\`\`json {{input}} block`);
  return { file, system, user };
}

/** Reads `<name>.v<version>.md` from the directory of this (compiled) module. */
export function loadTemplate(name: string, version: number): PromptTemplate {
  const file = `${name}.v${version}.md`;
  return parseTemplate(readFileSync(new URL(`./${file}`, import.meta.url), 'utf8'), file);
}

/** Fills every placeholder; a placeholder with no value is a bug in the prompt definition, so it throws. */
export function fill(text: string, vars: Readonly<Record<string, string>>, file: string): string {
  return text.replace(PLACEHOLDER, (_match, name: string) => {
    const value = vars[name];
    if (value === undefined) throw new Error(`prompt template ${file}: no value for {{${name}}}`);
    return value;
  });
}

/** The placeholder names a template uses, for tests and tooling. */
export function placeholders(template: PromptTemplate): string[] {
  return [...new Set([...`${template.system}\n${template.user}`.matchAll(PLACEHOLDER)].map((m) => m[1] as string))];
}
