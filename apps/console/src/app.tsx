import type { ComponentChildren } from 'preact';
import { useEffect, useErrorBoundary, useState } from 'preact/hooks';
import { session, type Identity } from './api.js';
import { Link } from './components.js';
import { Login } from './pages/login.js';
import { Overview } from './pages/overview.js';
import { Tasks } from './pages/tasks.js';
import { TaskPage } from './pages/task.js';
import { DeadLetters } from './pages/dead-letters.js';
import { Control } from './pages/control.js';
import { Bulk } from './pages/bulk.js';
import { Audit } from './pages/audit.js';
import { Live } from './pages/live.js';
import { Schedules } from './pages/schedules.js';
import { match, useLocation } from './router.js';

const NAV: Array<{ href: string; label: string; active: (path: string) => boolean }> = [
  { href: '/', label: 'Overview', active: (p) => p === '/' },
  { href: '/tasks', label: 'Tasks', active: (p) => p.startsWith('/tasks') },
  { href: '/dead-letters', label: 'Dead letters', active: (p) => p.startsWith('/dead-letters') },
  { href: '/control', label: 'Control', active: (p) => p.startsWith('/control') },
  { href: '/bulk', label: 'Bulk actions', active: (p) => p.startsWith('/bulk') },
  { href: '/schedules', label: 'Schedules', active: (p) => p.startsWith('/schedules') },
  { href: '/live', label: 'Live feed', active: (p) => p.startsWith('/live') },
  { href: '/audit', label: 'Audit', active: (p) => p.startsWith('/audit') },
];

function useSession(): Identity | null {
  const [identity, setIdentity] = useState(session.credential() ? session.identity() : null);
  useEffect(() => {
    const update = () => setIdentity(session.credential() ? session.identity() : null);
    window.addEventListener('console:session', update);
    return () => window.removeEventListener('console:session', update);
  }, []);
  return identity;
}

/** The console: the login screen until a credential works, then a left nav and one page. */
export function App() {
  const identity = useSession();
  const { path, search } = useLocation();
  if (!identity) return <Login />;

  let page;
  let params: Record<string, string> | null;
  if (path === '/') page = <Overview identity={identity} />;
  else if (path === '/tasks' || path === '/tasks/') page = <Tasks search={search} />;
  else if ((params = match('/tasks/:id', path))) page = <TaskPage id={params.id!} />;
  else if (path.startsWith('/dead-letters')) page = <DeadLetters identity={identity} selected={match('/dead-letters/:id', path)?.id ?? null} />;
  else if (path.startsWith('/control')) page = <Control identity={identity} />;
  else if (path.startsWith('/bulk')) page = <Bulk identity={identity} />;
  else if (path.startsWith('/schedules')) page = <Schedules identity={identity} selected={match('/schedules/:id', path)?.id ?? null} />;
  else if (path.startsWith('/live')) page = <Live identity={identity} />;
  else if (path.startsWith('/audit')) page = <Audit identity={identity} />;
  else page = <p class="muted note">No page at {path}. <Link href="/">Back to the overview</Link></p>;

  return (
    <div class="shell">
      <nav class="nav" aria-label="Console">
        <div class="brand">
          Roadmap<span>console</span>
        </div>
        <ul>
          {NAV.map((item) => (
            <li key={item.href}>
              <Link href={item.href} class={item.active(path) ? 'active' : ''}>
                {item.label}
              </Link>
            </li>
          ))}
        </ul>
        <div class="whoami">
          <div>{identity.owner ?? 'signed in'}</div>
          <div class="muted">role {identity.role}</div>
          <button type="button" class="btn btn-plain" onClick={() => session.clear()}>
            Sign out
          </button>
        </div>
      </nav>
      <main class="main">
        <PageBoundary key={path}>{page}</PageBoundary>
      </main>
    </div>
  );
}

/** A page that throws while rendering (an answer of an unexpected shape) says so; the nav stays usable. */
function PageBoundary(props: { children: ComponentChildren }) {
  const [error, reset] = useErrorBoundary();
  if (error) {
    return (
      <div class="page">
        <p class="error note">This page could not be shown: {String((error as Error)?.message ?? error)}</p>
        <button type="button" class="btn btn-plain" onClick={reset}>
          Try again
        </button>
      </div>
    );
  }
  return <>{props.children}</>;
}
