import { useEffect, useState } from 'preact/hooks';

/** Everything the console shows lives under this path; the gateway answers index.html for all of it. */
export const BASE = '/console';

function currentPath(): string {
  const path = location.pathname.startsWith(BASE) ? location.pathname.slice(BASE.length) : location.pathname;
  return path === '' ? '/' : path;
}

/** Moves to a console path (`/tasks/…`) without reloading; query string included. */
export function navigate(path: string, replace = false): void {
  const url = `${BASE}${path}`;
  if (replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  window.dispatchEvent(new Event('console:navigate'));
}

/** The console path and its query, re-rendered on navigation (links, back and forward). */
export function useLocation(): { path: string; search: URLSearchParams } {
  const [, setTick] = useState(0);
  useEffect(() => {
    const update = () => setTick((n) => n + 1);
    window.addEventListener('popstate', update);
    window.addEventListener('console:navigate', update);
    return () => {
      window.removeEventListener('popstate', update);
      window.removeEventListener('console:navigate', update);
    };
  }, []);
  return { path: currentPath(), search: new URLSearchParams(location.search) };
}

/** Matches `/tasks/:id` against a path: the params, or null. */
export function match(pattern: string, path: string): Record<string, string> | null {
  const want = pattern.split('/');
  const got = path.replace(/\/$/, '').split('/');
  if (want.length !== got.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!;
    const g = got[i]!;
    if (w.startsWith(':')) params[w.slice(1)] = decodeURIComponent(g);
    else if (w !== g) return null;
  }
  return params;
}
