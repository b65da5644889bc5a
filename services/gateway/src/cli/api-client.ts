import { createRoadmapClient, type ApiError, type RoadmapClient } from '@roadmap/client';
import { CliError, ExitCode, exitCodeOfStatus } from './exit-codes.js';

export const DEFAULT_API_URL = 'http://127.0.0.1:3000';
/** How long one request may take before the server counts as unavailable (the event stream excepted). */
const REQUEST_TIMEOUT_MS = 30_000;

/**
 * The HTTP API as the CLI uses it: the typed client of @roadmap/client (generated from the OpenAPI
 * document) with the API key as a bearer credential, and every failure turned into a
 * {@link CliError} with the exit code it means (4xx by status, connection failures and 502/503/504
 * as "unavailable").
 */
export class ApiClient {
  readonly baseUrl: string;
  private typed?: RoadmapClient;

  constructor(
    baseUrl: string,
    private readonly apiKey: string | undefined,
  ) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
  }

  /** The typed client, or exit code 4 when there is no credential. */
  get client(): RoadmapClient {
    if (!this.apiKey) throw new CliError('no API key: set ROADMAP_API_KEY or pass --api-key (create one with `apikey create`)', ExitCode.auth);
    this.typed ??= createRoadmapClient({
      baseUrl: this.baseUrl,
      credential: this.apiKey,
      fetch: (input, init) => {
        const request = new Request(input as Request, init);
        // The event stream lasts as long as the task: only plain requests get a deadline.
        return new URL(request.url).pathname.endsWith('/events') ? fetch(request) : fetch(request, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
      },
    });
    return this.typed;
  }

  /** The data of an answer, or its failure as a CliError: `await api.call(api.client.GET(...))`. */
  async call<T>(pending: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
    let answer: Awaited<typeof pending>;
    try {
      answer = await pending;
    } catch (error) {
      if (error instanceof CliError) throw error;
      throw new CliError(`cannot reach the API at ${this.baseUrl}: ${reason(error)}`, ExitCode.unavailable);
    }
    const { data, error, response } = answer;
    if (response.ok) return data as T;
    const problem = (typeof error === 'object' && error !== null ? error : {}) as Partial<ApiError>;
    const fields = problem.details?.length ? ` (${problem.details.map((d) => `${d.path}: ${d.message}`).join('; ')})` : '';
    const text = typeof error === 'string' ? error.slice(0, 200) : '';
    const message = `${response.status} ${problem.code ?? response.statusText}: ${problem.message ?? (text || 'no details')}${fields}`;
    throw new CliError(message, exitCodeOfStatus(response.status));
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
