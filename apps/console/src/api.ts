import { createRoadmapClient, type RoadmapClient } from '@roadmap/client';

/**
 * The console's only way to the API: same origin, `Authorization: Bearer <credential>` on every call.
 * The credential (an API key or a JWT) lives in sessionStorage: it survives a reload, not the tab.
 */
const CREDENTIAL = 'roadmap-console.credential';
const IDENTITY = 'roadmap-console.identity';

export interface Identity {
  /** "admin" when /api/v1/admin/* answers; "user" otherwise (admin pages then say so). */
  readonly role: 'admin' | 'user';
  readonly owner: string | null;
}

export const session = {
  credential: (): string | null => sessionStorage.getItem(CREDENTIAL),
  identity: (): Identity | null => {
    const raw = sessionStorage.getItem(IDENTITY);
    return raw ? (JSON.parse(raw) as Identity) : null;
  },
  save(credential: string, identity: Identity): void {
    sessionStorage.setItem(CREDENTIAL, credential);
    sessionStorage.setItem(IDENTITY, JSON.stringify(identity));
    window.dispatchEvent(new Event('console:session'));
  },
  clear(): void {
    sessionStorage.removeItem(CREDENTIAL);
    sessionStorage.removeItem(IDENTITY);
    window.dispatchEvent(new Event('console:session'));
  },
};

/** An answer of the API other than 2xx, with its stable code and message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }

  /** A 404: the endpoint (or the thing) is not there, e.g. a feature this gateway does not have yet. */
  get notFound(): boolean {
    return this.status === 404;
  }
}

export function authHeader(credential = session.credential()): Record<string, string> {
  return credential ? { authorization: `Bearer ${credential}` } : {};
}

/**
 * The typed client of @roadmap/client (generated from the OpenAPI document), on the page's origin;
 * each request carries the session's credential as it is when sent.
 */
export const client: RoadmapClient = createRoadmapClient({
  baseUrl: '',
  fetch: (input, init) => {
    const request = new Request(input as Request, init);
    for (const [name, value] of Object.entries(authHeader())) if (!request.headers.has(name)) request.headers.set(name, value);
    return fetch(request);
  },
});

/**
 * The data of an answer: `await call(client.GET('/api/v1/tasks/{id}', …))`. A 401 ends the session
 * (the key was revoked, or the JWT expired) and brings the login screen back, unless the request
 * tried another credential (`keepSession`); other errors are thrown as ApiError for the page to show.
 */
export async function call<T>(pending: Promise<{ data?: T; error?: unknown; response: Response }>, keepSession = false): Promise<T> {
  let answer: Awaited<typeof pending>;
  try {
    answer = await pending;
  } catch {
    throw new ApiError(0, 'NETWORK', 'The gateway cannot be reached');
  }
  const { data, error, response } = answer;
  if (response.ok) return data as T;
  const problem = (error && typeof error === 'object' ? error : {}) as { code?: string; message?: string };
  if (response.status === 401 && !keepSession) session.clear();
  throw new ApiError(response.status, problem.code ?? `HTTP_${response.status}`, problem.message ?? `${response.url}: ${response.status}`);
}

/** `?a=1&b=2` from the defined values (empty string when none): the console's own URLs. */
export function query(params: Record<string, string | number | undefined | null>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined && value !== null && value !== '') search.set(key, String(value));
  const text = search.toString();
  return text ? `?${text}` : '';
}
