import { useEffect, useState } from 'preact/hooks';
import { API_BASE, authHeader, query, session, type Identity } from '../api.js';
import { AdminOnly, Badge, Link, Section, ShortId, Time } from '../components.js';
import { parseBlock, readStream } from '../sse.js';

interface FeedEvent {
  id: number;
  type: string;
  taskId?: string;
  owner?: string | null;
  level?: string;
  at?: string;
}

const LEVELS = ['debug', 'info', 'warn', 'error'];
/** Events kept on screen, newest first. */
const KEEP = 200;

/**
 * Live feed (admin): every task's events as they happen (GET /api/v1/admin/events), filtered by
 * type, owner and level. Read with fetch() like the task page's events (a header, not a token in the
 * URL), reconnecting after a drop with Last-Event-ID.
 */
export function Live(props: { identity: Identity }) {
  const [type, setType] = useState('');
  const [owner, setOwner] = useState('');
  const [level, setLevel] = useState('info');
  const [events, setEvents] = useState<FeedEvent[]>([]);
  const [state, setState] = useState('connecting');

  useEffect(() => {
    if (props.identity.role !== 'admin') return;
    const controller = new AbortController();
    let lastId: number | undefined;
    setEvents([]);
    const run = async () => {
      while (!controller.signal.aborted) {
        setState('connecting');
        try {
          const response = await fetch(`${API_BASE}/admin/events${query({ type: type.trim(), owner: owner.trim(), level })}`, {
            headers: { accept: 'text/event-stream', ...authHeader(), ...(lastId === undefined ? {} : { 'last-event-id': String(lastId) }) },
            signal: controller.signal,
          });
          if (response.status === 401) session.clear();
          if (!response.ok || !response.body) {
            setState(`unavailable (${response.status})`);
            return;
          }
          setState('live');
          await readStream(response.body, (block) => {
            const parsed = parseBlock(block);
            if (parsed.id === undefined || parsed.data === undefined) return;
            lastId = parsed.id;
            try {
              const data = JSON.parse(parsed.data) as Omit<FeedEvent, 'id'>;
              setEvents((old) => [{ ...data, id: parsed.id! }, ...old].slice(0, KEEP));
            } catch {
              // not JSON: skipped
            }
          });
        } catch {
          if (controller.signal.aborted) return;
        }
        setState('retrying');
        await new Promise((resolve) => setTimeout(resolve, 2000));
      }
    };
    void run();
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
