/*
 * Small, pure string helpers for the offline provider. Everything here is deterministic: no clock,
 * no randomness, no locale-dependent behaviour beyond Unicode normalisation.
 */

/** FNV-1a over UTF-16 code units: a stable 32-bit hash used to pick phrasing variants. */
export function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** Picks one of `items` by the hash of `key`. */
export function pick<T>(items: readonly T[], key: string): T {
  return items[hash(key) % items.length] as T;
}

/** A lower-case slug matching the contracts' `^[a-z0-9][a-z0-9-]*$`, at most `max` characters. */
export function slugify(text: string, max = 60): string {
  const slug = text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, max)
    .replace(/-+$/, '');
  return slug;
}

/** Whether `id` is already a valid contracts slug (then it is kept as it is). */
export function isSlug(id: string): boolean {
  return id.length <= 80 && /^[a-z0-9][a-z0-9-]*$/.test(id);
}

/** Returns `base` or `base-2`, `base-3`… whichever is not yet in `taken`, and records it. */
export function uniqueId(base: string, taken: Set<string>, fallback = 'topic'): string {
  const root = base || fallback;
  let id = root;
  for (let n = 2; taken.has(id); n++) id = `${root.slice(0, 74)}-${n}`;
  taken.add(id);
  return id;
}

export function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** Cuts at a word boundary so text stays readable, adding an ellipsis when shortened. Keeps line breaks. */
export function truncate(text: string, max: number): string {
  const clean = text.replace(/[ \t]+/g, ' ').trim();
  if (clean.length <= max) return clean;
  const cut = clean.slice(0, max - 1);
  const space = cut.lastIndexOf(' ');
  return `${(space > max / 2 ? cut.slice(0, space) : cut).replace(/[\s,;:.-]+$/, '')}…`;
}

/** Rounds to the nearest half hour, never below the schema's 0.5 h minimum. */
export function halfHours(hours: number): number {
  return Math.max(0.5, Math.round(hours * 2) / 2);
}

export function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}

const STOPWORDS = new Set(
  (
    'a an and the to of in on at for with without from into about by as or my our your their its how what why ' +
    'learn learning become becoming get getting good better best basics basic start started starting want would like ' +
    'need i me be able can could should will more some any all very really just also well new level skills skill'
  ).split(' '),
);

/** The content words of a phrase, in order, without duplicates or filler. */
export function keywords(text: string, max = 3): string[] {
  const words = text.toLowerCase().match(/[\p{L}\p{N}][\p{L}\p{N}+#.-]*/gu) ?? [];
  const out: string[] = [];
  for (const raw of words) {
    const word = raw.replace(/[.-]+$/, '');
    if (word.length < 3 || STOPWORDS.has(word) || out.includes(word)) continue;
    out.push(word);
    if (out.length === max) break;
  }
  return out;
}

/** English -ing form of a verb, by the usual spelling rules (bake -> baking, run -> running). */
export function gerund(verb: string): string {
  const v = verb.toLowerCase();
  if (v.endsWith('ing')) return v;
  if (v.endsWith('ie')) return `${v.slice(0, -2)}ying`;
  if (v.endsWith('e') && !/(ee|ye|oe)$/.test(v) && v.length > 2) return `${v.slice(0, -1)}ing`;
  if (/^[^aeiou]*[aeiou][^aeiouwxy]$/.test(v)) return `${v}${v.slice(-1)}ing`;
  return `${v}ing`;
}

/** "a" or "an" before a word, by its first letter (good enough for the words generated here). */
export function article(word: string): string {
  return /^[aeiou]/i.test(word) ? `an ${word}` : `a ${word}`;
}
