import { useEffect, useState } from 'preact/hooks';
import { FollowError, followAdminEvents, type FeedEvent, type FeedQuery } from '@roadmap/client';
import { client, session, type Identity } from '../api.js';
import { AdminOnly, Badge, Link, Section, ShortId, Time } from '../components.js';

/** An event of the feed with its id in the EVENTS stream. */
type Shown = FeedEvent & { id: number };

const LEVELS = ['debug', 'info', 'warn', 'error'];
/** Events kept on screen, newest first. */
const KEEP = 200;

/**
 * Live feed (admin): every task's events as they happen (GET /api/v1/admin/events), filtered by
 * type, owner and level. Read with @roadmap/client's followAdminEvents (fetch with the credential in
 * a header, not a token in the URL), reconnecting after a drop with Last-Event-ID.
 */
export function Live(props: { identity: Identity }) {
  const [type, setType] = useState('');
  const [owner, setOwner] = useState('');
  const [level, setLevel] = useState('info');
  const [events, setEvents] = useState<Shown[]>([]);
  const [state, setState] = useState('connecting');

  useEffect(() => {
    if (props.identity.role !== 'admin') return;
    const controller = new AbortController();
    setEvents([]);
    const query = { type: type.trim() || undefined, owner: owner.trim() || undefined, level: level as FeedQuery['level'] };
    followAdminEvents(client, query, {
      signal: controller.signal,
      onState: (next, status) => setState(status ? `unavailable (${status})` : next),
      onEvent: (event, id) => setEvents((old) => [{ ...event, id: Number(id) }, ...old].slice(0, KEEP)),
    }).catch((error: unknown) => {
      if (error instanceof FollowError && error.status === 401) session.clear();
    });
    return () => controller.abort();
  }, [type, owner, level, props.identity.role]);

  if (props.identity.role !== 'admin') {
    return <AdminOnly title="Live feed" note="The live feed is for the admin role only." />;
  }
  return (
    <div class="page">
      <h1>Live feed</h1>
      <Section
        title={`Every task's events (${state})`}
        actions={
          <>
            <label>
              Type <input name="type" placeholder="task.failed,item.*" value={type} onChange={(e) => setType((e.target as HTMLInputElement).value)} />
            </label>
            <label>
              Owner <input name="owner" value={owner} onChange={(e) => setOwner((e.target as HTMLInputElement).value)} />
            </label>
            <label>
              Level{' '}
              <select name="level" value={level} onChange={(e) => setLevel((e.target as HTMLSelectElement).value)}>
                {LEVELS.map((l) => (
                  <option key={l} value={l}>
                    {l}
                  </option>
                ))}
              </select>
            </label>
          </>
        }
      >
        {events.length === 0 ? (
          <p class="muted note">Waiting for events…</p>
        ) : (
          <div class="table-scroll">
            <table class="feed">
              <thead>
                <tr>
                  <th>when</th>
                  <th>level</th>
                  <th>event</th>
                  <th>task</th>
                  <th>owner</th>
                </tr>
              </thead>
              <tbody>
                {events.map((e) => (
                  <tr key={e.id}>
                    <td class="nowrap">
                      <Time at={e.at} />
                    </td>
                    <td>
                      <Badge status={e.level === 'error' ? 'failed' : e.level === 'warn' ? 'awaiting_review' : 'queued'} title={e.level} />
                    </td>
                    <td>
                      <code>{e.type}</code>
                    </td>
                    <td>{e.taskId ? <Link href={`/tasks/${e.taskId}`}><ShortId id={e.taskId} /></Link> : '—'}</td>
                    <td>{e.owner ?? '—'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Section>
    </div>
  );
}
