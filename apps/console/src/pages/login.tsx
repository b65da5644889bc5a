import { useState } from 'preact/hooks';
import { ApiError, authHeader, call, client, session, type Identity } from '../api.js';

/**
 * Asks for an API key (rk_…) or a JWT, checks it against the API, and keeps it in sessionStorage.
 * The role comes from the API itself: /api/v1/admin/whoami answers admins and refuses others.
 */
export function Login() {
  const [credential, setCredential] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [pending, setPending] = useState(false);

  const submit = async (event: Event) => {
    event.preventDefault();
    const value = credential.trim();
    if (!value) return setError('Paste an API key or a token.');
    setPending(true);
    setError(null);
    try {
      // The credential being tried, not the session's: a refusal here keeps the login screen as it is.
      const headers = authHeader(value);
      await call(client.GET('/api/v1/tasks', { params: { query: { limit: 1 } }, headers }), true);
      let identity: Identity = { role: 'user', owner: null };
      try {
        const who = await call(client.GET('/api/v1/admin/whoami', { headers }), true);
        identity = { role: who.role, owner: who.owner };
      } catch (err) {
        if (!(err instanceof ApiError) || (err.status !== 403 && err.status !== 404)) throw err;
      }
      session.save(value, identity);
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    } finally {
      setPending(false);
    }
  };

  return (
    <div class="login">
      <form class="card login-card" onSubmit={submit}>
        <h1>
          Roadmap <span class="muted">console</span>
        </h1>
        <p class="muted">Sign in with an API key (npm run cli -- apikey create …) or a bearer token. It is kept for this browser tab only.</p>
        <label for="credential">API key or token</label>
        <input
          id="credential"
          name="credential"
          type="password"
          autoComplete="off"
          placeholder="rk_…"
          value={credential}
          onInput={(e) => setCredential((e.target as HTMLInputElement).value)}
        />
        {error && (
          <p class="flash flash-error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" class="btn btn-primary" disabled={pending}>
          {pending ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </div>
  );
}
