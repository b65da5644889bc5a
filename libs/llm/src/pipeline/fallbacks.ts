/** One fallback provider/model of LLM_FALLBACKS. */
export interface FallbackEntry {
  readonly provider: 'openai' | 'offline';
  readonly model: string;
  /** Endpoint of an `openai` entry; LLM_BASE_URL when absent. */
  readonly baseUrl?: string;
  /** Variable holding this entry's API key; `LLM_FALLBACK_<n>_API_KEY` (n from 1) when absent, then LLM_API_KEY. */
  readonly apiKeyEnv?: string;
  /** This entry's own limits per rate window; LLM_RPM / LLM_TPM when absent. */
  readonly rpm?: number;
  readonly tpm?: number;
}

const PROVIDERS = new Set(['openai', 'offline']);

/**
 * Parses LLM_FALLBACKS, in either of two forms:
 * - a comma-separated list of `provider:model[@baseUrl]`, e.g.
 *   `openai:gpt-4o-mini@https://eu.example.com/v1,offline:offline-deterministic-1`;
 * - a JSON array of `{ "provider", "model", "baseUrl"?, "apiKeyEnv"?, "rpm"?, "tpm"? }`.
 * Keys never appear in the value: entry n reads `apiKeyEnv`, else `LLM_FALLBACK_<n>_API_KEY`, else LLM_API_KEY.
 * Throws an Error naming the entry at fault.
 */
export function parseFallbacks(text: string | undefined): FallbackEntry[] {
  if (!text) return [];
  const trimmed = text.trim();
  const raw: unknown[] = trimmed.startsWith('[') ? parseJsonArray(trimmed) : trimmed.split(',').map((s) => s.trim()).filter(Boolean).map(parseShort);
  return raw.map((entry, i) => check(entry, i + 1));
}

function parseJsonArray(text: string): unknown[] {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new Error('is not valid JSON (a JSON array of {provider, model, baseUrl?, apiKeyEnv?} or `provider:model@baseUrl,…`)');
  }
  if (!Array.isArray(raw)) throw new Error('must be a JSON array');
  return raw;
}

function parseShort(text: string): unknown {
  const colon = text.indexOf(':');
  if (colon <= 0) throw new Error(`entry "${text}" must be provider:model[@baseUrl]`);
  const provider = text.slice(0, colon);
  const rest = text.slice(colon + 1);
  const at = rest.indexOf('@');
  return at < 0 ? { provider, model: rest } : { provider, model: rest.slice(0, at), baseUrl: rest.slice(at + 1) };
}

function check(raw: unknown, n: number): FallbackEntry {
  const entry = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  const where = `entry ${n}`;
  if (typeof entry.provider !== 'string' || !PROVIDERS.has(entry.provider)) throw new Error(`${where}: provider must be openai or offline`);
  if (typeof entry.model !== 'string' || entry.model.trim() === '') throw new Error(`${where}: model is required`);
  if (entry.baseUrl !== undefined) {
    let url: URL | undefined;
    try {
      url = new URL(String(entry.baseUrl));
    } catch {
      url = undefined;
    }
    if (!url || !['http:', 'https:'].includes(url.protocol)) throw new Error(`${where}: baseUrl must be an http(s) URL`);
  }
  if (entry.apiKeyEnv !== undefined && (typeof entry.apiKeyEnv !== 'string' || !/^[A-Z_][A-Z0-9_]*$/.test(entry.apiKeyEnv))) {
    throw new Error(`${where}: apiKeyEnv must name an environment variable`);
  }
  for (const field of ['rpm', 'tpm'] as const) {
    const value = entry[field];
    if (value !== undefined && (typeof value !== 'number' || !Number.isInteger(value) || value < 0)) throw new Error(`${where}: ${field} must be an integer ≥ 0`);
  }
  return {
    provider: entry.provider as FallbackEntry['provider'],
    model: entry.model.trim(),
    ...(entry.baseUrl !== undefined && { baseUrl: String(entry.baseUrl) }),
    ...(entry.apiKeyEnv !== undefined && { apiKeyEnv: entry.apiKeyEnv as string }),
    ...(entry.rpm !== undefined && { rpm: entry.rpm as number }),
    ...(entry.tpm !== undefined && { tpm: entry.tpm as number }),
  };
}

/** The API key of fallback n (1-based): its apiKeyEnv, else LLM_FALLBACK_<n>_API_KEY, else the primary's key. */
export function fallbackApiKey(entry: FallbackEntry, n: number, source: NodeJS.ProcessEnv, primaryKey: string | undefined): string | undefined {
  const named = entry.apiKeyEnv ?? `LLM_FALLBACK_${n}_API_KEY`;
  const value = source[named]?.trim();
  return value ? value : primaryKey;
}
