import type { Queues, TaskStats } from '@roadmap/client';
import { call, client, type Identity } from '../api.js';
import { Badge, Link, LoadError, Loading, ObjectTable, Section, Time } from '../components.js';
import { useApi } from '../hooks.js';

const STATUSES: ReadonlyArray<keyof TaskStats['byStatus']> = ['queued', 'running', 'awaiting_review', 'completed', 'failed', 'cancelled'];

type Row = Record<string, unknown>;

/** Streams, consumers, workers (admin endpoints) and the last hour's tasks, refreshed every 5 s. */
export function Overview(props: { identity: Identity }) {
  const admin = props.identity.role === 'admin';
  return (
    <div class="page">
      <h1>Overview</h1>
      <TaskStatsCard />
      {admin ? (
        <>
          <QueuesCard />
          <WorkersCard />
          <MaintenanceCard />
        </>
      ) : (
        <Section title="Queues and workers">
          <p class="muted note">Queues and workers are shown to the admin role only.</p>
        </Section>
      )}
    </div>
  );
}

function TaskStatsCard() {
  const stats = useApi('/console/task-stats', () => call(client.GET('/api/v1/console/task-stats', { params: { query: { minutes: 60 } } })), 5000);
  return (
    <Section title="Tasks created in the last hour" actions={<Link href="/tasks">All tasks →</Link>}>
      {stats.error ? (
        <LoadError error={stats.error} what="Task statistics" />
      ) : !stats.data ? (
        <Loading />
      ) : (
        <>
          <div class="tiles">
            {STATUSES.map((s) => (
              <Link key={s} href={`/tasks?status=${s}`} class="tile">
                <span class="tile-count">{stats.data!.byStatus[s] ?? 0}</span>
                <Badge status={s} />
              </Link>
            ))}
          </div>
          <StatusChart stats={stats.data} />
        </>
      )}
    </Section>
  );
}

/** One stacked bar per bucket (5 min), coloured by status: what the last hour looked like. */
function StatusChart(props: { stats: TaskStats }) {
  const max = Math.max(1, ...props.stats.buckets.map((b) => STATUSES.reduce((n, s) => n + (b.byStatus[s] ?? 0), 0)));
  return (
    <div class="chart" aria-label="Tasks per 5 minutes by status">
      {props.stats.buckets.map((bucket) => {
        const total = STATUSES.reduce((n, s) => n + (bucket.byStatus[s] ?? 0), 0);
        const time = new Date(bucket.start).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
        return (
          <div class="chart-col" key={bucket.start} title={`${time}: ${total} task(s)`}>
            <div class="chart-bar" style={{ height: `${(100 * total) / max}%` }}>
              {STATUSES.filter((s) => bucket.byStatus[s]).map((s) => (
                <div key={s} class={`chart-seg seg-${s}`} style={{ flexGrow: bucket.byStatus[s] }} />
              ))}
            </div>
            <div class="chart-label">{time}</div>
          </div>
        );
      })}
    </div>
  );
}

type ConsumerRow = Queues['streams'][number]['consumers'][number];

/**
 * GET /api/v1/admin/queues: per stream its depth, and per consumer pending, ack pending, redelivered
 * and the ack rate; the stream row sums its consumers. Fields the console does not know are shown
 * as extra columns rather than dropped.
 */
function QueuesCard() {
  const queues = useApi('/admin/queues', () => call(client.GET('/api/v1/admin/queues')), 5000);
  const consumers: Row[] = [];
  const rows = (queues.data?.streams ?? []).map(({ consumers: list, ...scalar }) => {
    for (const c of list) {
      const { rateWindowSeconds: _window, ...rest } = c;
      consumers.push({ ...rest, ackRate: typeof c.ackRate === 'number' ? `${c.ackRate.toFixed(1)}/s` : c.ackRate });
    }
    const sum = (field: 'pending' | 'ackPending' | 'redelivered' | 'ackRate') => list.reduce((n, c: ConsumerRow) => n + (c[field] ?? 0), 0);
    return {
      ...scalar,
      ...(list.length
        ? { pending: sum('pending'), ackPending: sum('ackPending'), redelivered: sum('redelivered'), rate: `${sum('ackRate').toFixed(1)}/s`, consumers: list.length }
        : {}),
    } as Row;
  });
  return (
    <Section title="Streams">
      {queues.error ? (
        <LoadError error={queues.error} what="Queue statistics (GET /api/v1/admin/queues)" />
      ) : !queues.data ? (
        <Loading />
      ) : (
        <>
          <ObjectTable
            rows={rows}
            columns={['stream', 'messages', 'pending', 'ackPending', 'redelivered', 'rate', 'consumers']}
            labels={{ messages: 'depth', rate: 'acks' }}
            empty="No streams."
          />
          {consumers.length > 0 && (
            <>
              <h3>Consumers</h3>
              <ObjectTable rows={consumers} columns={['stream', 'consumer', 'pending', 'ackPending', 'redelivered', 'waiting', 'ackRate', 'lastActive']} labels={{ ackRate: 'acks' }} />
            </>
          )}
        </>
      )}
    </Section>
  );
}

/** GET /api/v1/admin/workers: every process, the consumers it pulls from, since when, and what it has in flight. */
function WorkersCard() {
  const workers = useApi('/admin/workers', () => call(client.GET('/api/v1/admin/workers')), 5000);
  const rows = workers.data?.items ?? [];
  return (
    <Section title="Workers">
      {workers.error ? (
        <LoadError error={workers.error} what="Worker list (GET /api/v1/admin/workers)" />
      ) : !workers.data ? (
        <Loading />
      ) : rows.length === 0 ? (
        <p class="muted note">No worker process is registered.</p>
      ) : (
        <div class="table-scroll">
          <table class="workers">
            <thead>
              <tr>
                <th>process</th>
                <th>status</th>
                <th>started</th>
                <th>heartbeat</th>
                <th>in flight</th>
                <th>consumers</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((w, i) => (
                <tr key={w.id ?? i}>
                  <td>
                    <strong>{w.service ?? '?'}</strong>
                    <div class="muted small">{w.instance ?? (w.host && w.pid ? `${w.host}:${w.pid}` : '')}</div>
                  </td>
                  <td>{w.status ? <Badge status={w.status} /> : '—'}</td>
                  <td>
                    <Time at={w.startedAt} />
                  </td>
                  <td>
                    <Time at={w.lastHeartbeatAt} />
                  </td>
                  <td class="num">{w.inFlight ?? '—'}</td>
                  <td>
                    {(w.consumers ?? []).length === 0 ? (
                      <span class="muted">—</span>
                    ) : (
                      <ul class="consumer-list">
                        {(w.consumers ?? []).map((c) => (
                          <li key={c.consumer}>
                            <code>{c.consumer}</code> <span class="muted">{c.stream}</span> · {c.inFlight ?? 0}/{c.concurrency ?? '?'} in flight
                            {c.since && (
                              <>
                                {' '}
                                · since <Time at={c.since} />
                              </>
                            )}
                            {c.handled && <span class="muted"> · {Object.entries(c.handled).map(([k, v]) => `${v} ${k.replace(/([a-z])([A-Z])/g, '$1-$2').toLowerCase()}`).join(', ')}</span>}
                          </li>
                        ))}
                      </ul>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Section>
  );
}

/** GET /api/v1/admin/maintenance: each scheduled job, when it last succeeded, when it is due, and its last run. */
function MaintenanceCard() {
  const maintenance = useApi('/admin/maintenance', () => call(client.GET('/api/v1/admin/maintenance', { params: { query: { limit: 1 } } })), 15000);
  const jobs = maintenance.data?.jobs ?? [];
  return (
    <Section title="Maintenance">
      {maintenance.error ? (
        <LoadError error={maintenance.error} what="Scheduled maintenance (GET /api/v1/admin/maintenance)" />
      ) : !maintenance.data ? (
        <Loading />
      ) : jobs.length === 0 ? (
        <p class="muted note">No maintenance job is scheduled.</p>
      ) : (
        <table class="maintenance">
          <thead>
            <tr>
              <th>job</th>
              <th>every</th>
              <th>last run</th>
              <th>outcome</th>
              <th>took</th>
              <th>last success</th>
              <th>next due</th>
              <th>detail</th>
            </tr>
          </thead>
          <tbody>
            {jobs.map((job) => {
              const run = job.runs?.[0];
              const detail = run?.detail ? Object.entries(run.detail).filter(([, v]) => typeof v !== 'object' || v === null) : [];
              return (
                <tr key={job.job}>
                  <td>
                    <code>{job.job}</code>
                  </td>
                  <td>{job.intervalSeconds ? every(job.intervalSeconds) : '—'}</td>
                  <td>
                    <Time at={run?.startedAt} />
                    {run?.instance && <div class="muted small">{run.instance}</div>}
                  </td>
                  <td>{run?.outcome ? <Badge status={run.outcome} /> : <span class="muted">not run yet</span>}</td>
                  <td class="num">{typeof run?.durationMs === 'number' ? `${run.durationMs} ms` : '—'}</td>
                  <td>
                    <Time at={job.lastSuccessAt} />
                  </td>
                  <td>
                    <Time at={job.nextDueAt} />
                  </td>
                  <td class="muted small">{detail.map(([k, v]) => `${k} ${String(v)}`).join(' · ')}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </Section>
  );
}

function every(seconds: number): string {
  if (seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds % 60 === 0) return `${seconds / 60} min`;
  return `${seconds} s`;
}
