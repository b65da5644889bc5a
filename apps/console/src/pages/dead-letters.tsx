import { useState } from 'preact/hooks';
import type { operations } from '@roadmap/client';
import { ApiError, call, client, type Identity } from '../api.js';
import { AdminOnly, Badge, Button, Flash, Link, LoadError, Loading, Section, ShortId, Time } from '../components.js';
import { useAction, useApi } from '../hooks.js';
import { navigate } from '../router.js';

const STREAMS: ReadonlyArray<NonNullable<DeadLetterQuery['stream']>> = ['ROADMAP_WORKFLOW', 'CONTENT_GENERATION', 'LOGS', 'EVENTS'];

type DeadLetterQuery = NonNullable<operations['listDeadLetters']['parameters']['query']>;
type State = NonNullable<DeadLetterQuery['state']>;
const path = (id: string) => ({ params: { path: { id } } });

/** Dead letters (admin): the list newest first, one inspected with its headers and payload, replay and discard. */
export function DeadLetters(props: { identity: Identity; selected: string | null }) {
  const [stream, setStream] = useState<DeadLetterQuery['stream'] | ''>('');
  const [state, setState] = useState<State>('open');
  const list = useApi(
    `/admin/dead-letters?${stream}&${state}`,
    () => call(client.GET('/api/v1/admin/dead-letters', { params: { query: { limit: 100, stream: stream || undefined, state } } })),
    5000,
  );
  if (props.identity.role !== 'admin') {
    return <AdminOnly title="Dead letters" note="Dead letters are shown to the admin role only." />;
  }
  return (
    <div class="page">
      <h1>Dead letters</h1>
      {props.selected && <Inspect key={props.selected} id={props.selected} onChanged={list.reload} />}
      <Section
        title="Messages that failed for good"
        actions={
          <>
          <label>
            Show{' '}
            <select name="state" value={state} onChange={(e) => setState((e.target as HTMLSelectElement).value as State)}>
              <option value="open">open</option>
              <option value="discarded">discarded</option>
              <option value="all">all</option>
            </select>
          </label>
          <label>
            Stream{' '}
            <select value={stream} onChange={(e) => setStream((e.target as HTMLSelectElement).value as DeadLetterQuery['stream'])}>
              <option value="">any</option>
              {STREAMS.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          </label>
          </>
        }
      >
        {list.error ? (
          <LoadError error={list.error} what="Dead letters" />
        ) : !list.data ? (
          <Loading />
        ) : list.data.items.length === 0 ? (
          <p class="muted note">{state === 'open' ? 'No dead letter to deal with.' : 'None.'}</p>
        ) : (
          <div class="table-scroll">
            <table class="dead-letters">
              <thead>
                <tr>
                  <th class="nowrap">when</th>
                  <th>stream</th>
                  <th>subject</th>
                  <th>reason</th>
                  <th>deliveries</th>
                  <th>task</th>
                  <th>state</th>
                </tr>
              </thead>
              <tbody>
                {list.data.items.map((d) => (
                  <tr key={d.id} class={props.selected === d.id ? 'selected clickable' : 'clickable'} onClick={() => navigate(`/dead-letters/${d.id}`)}>
                    <td class="nowrap">
                      <Link href={`/dead-letters/${d.id}`}>
                        <Time at={d.createdAt} />
                      </Link>
                    </td>
                    <td>{d.stream}</td>
                    <td>
                      <code>{d.subject}</code>
                    </td>
                    <td class="reason">{d.reason}</td>
                    <td class="num">{d.deliveries ?? '—'}</td>
                    <td>{d.taskId ? <Link href={`/tasks/${d.taskId}`}><ShortId id={d.taskId} /></Link> : <span class="muted">—</span>}</td>
                    <td>
                      {d.discardedAt ? <Badge status="discarded" /> : d.replayCount > 0 ? <Badge status="replayed" title={`last ${d.replayedAt}`} /> : null}
                      {d.replayCount > 0 && <span class="muted"> ×{d.replayCount}</span>}
                    </td>
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

function Inspect(props: { id: string; onChanged: () => void }) {
  const letter = useApi(`/admin/dead-letters/${props.id}`, () => call(client.GET('/api/v1/admin/dead-letters/{id}', path(props.id))));
  const action = useAction();
  const [discardMissing, setDiscardMissing] = useState(false);
  const [replayNote, setReplayNote] = useState<string | null>(null);

  const replay = async () => {
    let count = 0;
    const ok = await action.run(async () => {
      count = (await call(client.POST('/api/v1/admin/dead-letters/{id}/replay', path(props.id)))).replayCount;
    }, 'Replayed');
    if (ok) {
      action.clear();
      letter.reload();
      props.onChanged();
      setReplayNote(`Replayed onto its subject (${count} replay${count === 1 ? '' : 's'} so far)`);
    }
  };
  const discard = async () => {
    setReplayNote(null);
    const ok = await action.run(async () => {
      try {
        await call(client.POST('/api/v1/admin/dead-letters/{id}/discard', path(props.id)));
      } catch (err) {
        if (err instanceof ApiError && err.status === 404 && err.code === 'ROUTE_NOT_FOUND') setDiscardMissing(true);
        throw err;
      }
    }, 'Discarded: it will not be replayed');
    if (ok) {
      letter.reload();
      props.onChanged();
    }
  };

  const d = letter.data;
  return (
    <Section title="Dead letter" actions={<Link href="/dead-letters">Close</Link>}>
      {letter.error ? (
        <LoadError error={letter.error} what="This dead letter" />
      ) : !d ? (
        <Loading />
      ) : (
        <>
          <div class="summary">
            <dl>
              <dt>stream</dt>
              <dd>{d.stream}</dd>
              <dt>subject</dt>
              <dd>
                <code>{d.subject}</code>
              </dd>
              <dt>sequence</dt>
              <dd>{d.streamSequence ?? '—'}</dd>
              <dt>deliveries</dt>
              <dd>{d.deliveries ?? '—'}</dd>
            </dl>
            <dl>
              <dt>recorded</dt>
              <dd>
                <Time at={d.createdAt} />
              </dd>
              <dt>task</dt>
              <dd>{d.taskId ? <Link href={`/tasks/${d.taskId}`}>{d.taskId}</Link> : '—'}</dd>
              {d.discardedAt && (
                <>
                  <dt>state</dt>
                  <dd>
                    <Badge status="discarded" /> <Time at={d.discardedAt} />
                    {d.discardedBy ? ` by ${d.discardedBy}` : ''}
                  </dd>
                </>
              )}
              <dt>replays</dt>
              <dd>
                {d.replayCount}
                {d.replayedAt && (
                  <>
                    {' '}
                    (last <Time at={d.replayedAt} />)
                  </>
                )}
              </dd>
            </dl>
          </div>
          <p class="reason-full">
            <strong>Reason:</strong> {d.reason}
          </p>
          <h3>Payload</h3>
          <pre class="payload">{pretty(d.payload ?? '')}</pre>
          <details>
            <summary>Headers ({Object.keys(d.headers ?? {}).length})</summary>
            <table>
              <tbody>
                {Object.entries(d.headers ?? {}).map(([k, v]) => (
                  <tr key={k}>
                    <td>
                      <code>{k}</code>
                    </td>
                    <td>{v}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </details>
          <div class="toolbar">
            <Button variant="primary" disabled={action.pending || Boolean(d.discardedAt)} onClick={replay}>
              Replay
            </Button>
            <Button variant="danger" disabled={action.pending || discardMissing || Boolean(d.discardedAt)} onClick={discard} title={discardMissing ? 'Discard is not available on this gateway' : ''}>
              Discard
            </Button>
            {replayNote && (
              <p class="flash flash-ok" role="status">
                {replayNote}
              </p>
            )}
            {discardMissing ? <p class="muted note">Discard is not available on this gateway.</p> : <Flash message={action.message} />}
          </div>
        </>
      )}
    </Section>
  );
}

function pretty(payload: string): string {
  try {
    return JSON.stringify(JSON.parse(payload), null, 2);
  } catch {
    return payload;
  }
}
