/**
 * The console's only way to the API: same origin, `Authorization: Bearer <credential>` on every call.
 * The credential (an API key or a JWT) lives in sessionStorage: it survives a reload, not the tab.
 */
const CREDENTIAL = 'roadmap-console.credential';
const IDENTITY = 'roadmap-console.identity';

export const API_BASE = '/api/v1';

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
 * Calls the API. A 401 ends the session (the key was revoked, or the JWT expired) and brings the
 * login screen back; other errors are thrown as ApiError for the page to show.
 */
export async function api<T>(method: string, path: string, body?: unknown, credential?: string): Promise<T> {
  let response: Response;
  try {
    response = await fetch(`${API_BASE}${path}`, {
      method,
      headers: { ...authHeader(credential ?? session.credential()), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, 'NETWORK', 'The gateway cannot be reached');
  }
  const text = await response.text();
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!response.ok) {
    const error = (json ?? {}) as { code?: string; message?: string };
    if (response.status === 401 && credential === undefined) session.clear();
    throw new ApiError(response.status, error.code ?? `HTTP_${response.status}`, error.message ?? `${method} ${path}: ${response.status}`);
  }
  return json as T;
}

export const get = <T>(path: string) => api<T>('GET', path);
export const post = <T>(path: string, body?: unknown) => api<T>('POST', path, body);

/** `?a=1&b=2` from the defined values (empty string when none). */
export function query(params: Record<string, string | number | undefined | null>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined && value !== null && value !== '') search.set(key, String(value));
  const text = search.toString();
  return text ? `?${text}` : '';
}
