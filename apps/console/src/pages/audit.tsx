import { useEffect, useState } from 'preact/hooks';
import type { AuditPage } from '@roadmap/client';
import { call, client, type Identity } from '../api.js';
import { AdminOnly, Badge, Button, LoadError, Loading, Section, Time } from '../components.js';
import { ApiError } from '../api.js';

type Entry = AuditPage['items'][number];
/** A refused action's result is its error: `{ code, message }`. */
const codeOf = (result: unknown) => (result && typeof result === 'object' && 'code' in result ? String(result.code) : '');

/** Audit (admin): every admin action, newest first, a page at a time. */
export function Audit(props: { identity: Identity }) {
  const [items, setItems] = useState<Entry[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [loaded, setLoaded] = useState(false);
  const load = async (from: string | null) => {
    try {
      const page = await call(client.GET('/api/v1/admin/audit', { params: { query: { limit: 50, cursor: from ?? undefined } } }));
      setItems((old) => (from ? [...old, ...page.items] : page.items));
      setCursor(page.nextCursor);
      setError(null);
    } catch (err) {
      setError(err instanceof ApiError ? err : new ApiError(0, 'CLIENT', String(err)));
    } finally {
      setLoaded(true);
    }
  };
  useEffect(() => void load(null), []);
  if (props.identity.role !== 'admin') {
    return <AdminOnly title="Audit" note="The audit trail is for the admin role only." />;
  }
  return (
    <div class="page">
      <h1>Audit</h1>
      <Section title="Admin actions" actions={<Button onClick={() => void load(null)}>Refresh</Button>}>
        {error ? (
          <LoadError error={error} what="The audit trail" />
        ) : !loaded ? (
          <Loading />
        ) : items.length === 0 ? (
          <p class="muted note">No admin action yet.</p>
        ) : (
          <div class="table-scroll">
            <table class="audit">
              <thead>
                <tr>
                  <th>when</th>
                  <th>who</th>
                  <th>action</th>
                  <th>target</th>
                  <th>outcome</th>
                  <th>parameters</th>
                </tr>
              </thead>
              <tbody>
                {items.map((e) => (
                  <tr key={e.id}>
                    <td class="nowrap">
                      <Time at={e.at} />
                    </td>
                    <td>{e.actor}</td>
                    <td>
                      <code>{e.action}</code>
                    </td>
                    <td>{e.target ?? '—'}</td>
                    <td>
                      <Badge status={e.outcome === 'ok' ? 'ok' : 'failed'} title={e.outcome === 'failed' ? codeOf(e.result) : undefined} />
                      {e.outcome === 'failed' && <span class="muted"> {codeOf(e.result)}</span>}
                    </td>
                    <td>
                      <code class="json-inline">{JSON.stringify(e.params)}</code>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {cursor && <Button onClick={() => void load(cursor)}>More</Button>}
      </Section>
    </div>
  );
}
