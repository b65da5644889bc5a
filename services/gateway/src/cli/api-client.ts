import { CliError, ExitCode, exitCodeOfStatus } from './exit-codes.js';

export const DEFAULT_API_URL = 'http://127.0.0.1:3000';
/** How long one request may take before the server counts as unavailable. */
const REQUEST_TIMEOUT_MS = 30_000;

/** An error answer of the API: `{ code, message, details, requestId }`. */
interface ApiErrorBody {
  code?: string;
  message?: string;
  details?: Array<{ field: string; message: string }>;
  requestId?: string;
}

/**
 * The HTTP API as the CLI uses it: JSON in and out, the API key as a bearer credential, and every
 * failure turned into a {@link CliError} with the exit code it means (4xx by status, connection
 * failures and 502/503/504 as "unavailable").
 */
export class ApiClient {
  readonly baseUrl: string;

  constructor(
    baseUrl: string,
    private readonly apiKey: string | undefined,
  ) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
  }

  /** The credential header, or exit code 4 when there is none. */
  authHeaders(): Record<string, string> {
    if (!this.apiKey) throw new CliError('no API key: set ROADMAP_API_KEY or pass --api-key (create one with `apikey create`)', ExitCode.auth);
    return { authorization: `Bearer ${this.apiKey}` };
  }

  get<T = any>(path: string, query: Record<string, string | number | undefined> = {}): Promise<T> {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) if (value !== undefined && value !== '') params.set(key, String(value));
    const qs = params.toString();
    return this.request<T>('GET', qs ? `${path}?${qs}` : path);
  }

  post<T = any>(path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
    return this.request<T>('POST', path, body, headers);
  }

  put<T = any>(path: string, body?: unknown): Promise<T> {
    return this.request<T>('PUT', path, body);
  }

  async request<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
    const url = `${this.baseUrl}${path}`;
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: { ...this.authHeaders(), ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (error) {
      if (error instanceof CliError) throw error;
      throw new CliError(`cannot reach the API at ${this.baseUrl}: ${reason(error)}`, ExitCode.unavailable);
    }
    const text = await res.text().catch(() => '');
    if (res.ok) return (text ? JSON.parse(text) : null) as T;
    let problem: ApiErrorBody = {};
    try {
      problem = JSON.parse(text) as ApiErrorBody;
    } catch {
      // not JSON (a proxy's page): the status says enough
    }
    const fields = problem.details?.length ? ` (${problem.details.map((d) => `${d.field}: ${d.message}`).join('; ')})` : '';
    const message = `${res.status} ${problem.code ?? res.statusText}: ${problem.message ?? (text.slice(0, 200) || 'no details')}${fields}`;
    throw new CliError(message, exitCodeOfStatus(res.status));
  }
}

function reason(error: unknown): string {
  if (error instanceof Error) {
    if (error.name === 'TimeoutError') return `no answer within ${REQUEST_TIMEOUT_MS / 1000} s`;
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    return cause?.code ?? cause?.message ?? error.message;
  }
  return String(error);
}
