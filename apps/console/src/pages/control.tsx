import { useState } from 'preact/hooks';
import type { components } from '@roadmap/client';
import { call, client, type Identity } from '../api.js';
import { AdminOnly, Badge, Button, Flash, LoadError, Loading, Section, Time } from '../components.js';
import { useAction, useApi } from '../hooks.js';
import { OwnerPolicies } from './owner-policies.js';

/** Queues with consumers an operator can pause (EVENTS has none); DEAD_LETTERS keeps records and is not purged. */
const CONTROLLABLE = ['ROADMAP_WORKFLOW', 'CONTENT_GENERATION', 'LOGS', 'DEAD_LETTERS'];
const PURGEABLE = ['ROADMAP_WORKFLOW', 'CONTENT_GENERATION', 'LOGS'];

type WorkerStats = components['schemas']['WorkersStats']['items'][number];
const stream = (name: string) => ({ params: { path: { stream: name } } });

/** Control (admin): pause, resume and purge queues; drain workers and change a consumer's slots; owners' policies. */
export function Control(props: { identity: Identity }) {
  if (props.identity.role !== 'admin') {
    return <AdminOnly title="Control" note="Queue and worker control is for the admin role only." />;
  }
  return (
    <div class="page">
      <h1>Control</h1>
      <QueueControl />
      <WorkerControl />
      <OwnerPolicies />
    </div>
  );
}

function QueueControl() {
  const queues = useApi('/admin/queues', () => call(client.GET('/api/v1/admin/queues')), 3000);
  const action = useAction();
  const [purge, setPurge] = useState<{ stream: string; messages: number; tasks: number } | null>(null);
  const act = async (name: string, verb: 'pause' | 'resume') => {
    if (await action.run(() => call(client.POST(`/api/v1/admin/queues/{stream}/${verb}`, { ...stream(name), body: {} })), `${name} ${verb === 'pause' ? 'paused' : 'resumed'}`)) queues.reload();
  };
  const count = async (name: string) => {
    await action.run(async () => {
      const res = await call(client.POST('/api/v1/admin/queues/{stream}/purge', { ...stream(name), body: { dryRun: true } }));
      setPurge({ stream: name, messages: res.messages, tasks: res.tasks });
    }, `Dry run of ${name}: nothing was purged`);
  };
  const confirmPurge = async () => {
    if (!purge) return;
    const name = purge.stream;
    const ok = await action.run(async () => {
      const res = await call(client.POST('/api/v1/admin/queues/{stream}/purge', { ...stream(name), body: { confirm: true } }));
      action.clear();
      setPurge(null);
      return res;
    }, `Purged ${name}; its tasks were cancelled (PURGED)`);
    if (ok) queues.reload();
  };
  const streams = (queues.data?.streams ?? []).filter((s) => CONTROLLABLE.includes(s.stream));
  return (
    <Section title="Queues">
      {queues.error ? (
        <LoadError error={queues.error} what="Queues" />
      ) : !queues.data ? (
        <Loading />
      ) : (
        <div class="table-scroll">
          <table class="queue-control">
            <thead>
              <tr>
                <th>queue</th>
                <th>consumer</th>
                <th>pending</th>
                <th>in flight</th>
                <th>state</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {streams.flatMap((s) =>
                s.consumers.map((c, i) => (
                  <tr key={c.consumer} data-queue={s.stream}>
                    <td>{i === 0 ? s.stream : ''}</td>
                    <td>{c.consumer}</td>
                    <td class="num">{c.pending ?? '—'}</td>
                    <td class="num">{c.ackPending ?? '—'}</td>
                    <td>
                      {c.paused ? (
                        <>
                          <Badge status="paused" /> <span class="muted">by {c.pausedBy}</span> <Time at={c.pausedAt} />
                        </>
                      ) : (
                        <Badge status="active" />
                      )}
                    </td>
                    <td class="nowrap">
                      {i === 0 && (
                        <>
                          {s.consumers.every((x) => x.paused) ? (
                            <Button variant="primary" disabled={action.pending} onClick={() => act(s.stream, 'resume')} aria-label={`Resume ${s.stream}`}>
                              Resume
                            </Button>
                          ) : (
                            <Button disabled={action.pending} onClick={() => act(s.stream, 'pause')} aria-label={`Pause ${s.stream}`}>
                              Pause
                            </Button>
                          )}{' '}
                          {PURGEABLE.includes(s.stream) && (
                            <Button variant="danger" disabled={action.pending} onClick={() => count(s.stream)} aria-label={`Purge ${s.stream}`}>
                              Purge…
                            </Button>
                          )}
                        </>
                      )}
                    </td>
                  </tr>
                )),
              )}
            </tbody>
          </table>
        </div>
      )}
      {purge && (
        <div class="toolbar confirm" role="group" aria-label="Confirm purge">
          <span>
            {purge.messages} messages of {purge.tasks} tasks would be dropped from {purge.stream}, and those tasks cancelled.
          </span>
          <Button variant="danger" disabled={action.pending || purge.messages === 0} onClick={confirmPurge}>
            Purge {purge.messages} messages
          </Button>
          <Button onClick={() => setPurge(null)}>Keep them</Button>
        </div>
      )}
      <Flash message={action.message} />
    </Section>
  );
}

function WorkerControl() {
  const stats = useApi('/admin/workers/stats', () => call(client.GET('/api/v1/admin/workers/stats')), 5000);
  const registered = useApi('/admin/workers/registered', () => call(client.GET('/api/v1/admin/workers/registered')), 5000);
  const action = useAction();
  const [consumer, setConsumer] = useState('');
  const [slots, setSlots] = useState('');
  const consumers = [...new Set((registered.data?.items ?? []).flatMap((w) => w.handlers.map((h) => h.consumer)))].sort();
  const slotsOf = (id: string) =>
    (registered.data?.items.find((w) => w.id === id)?.handlers ?? []).map((h) => `${h.consumer} ${h.concurrency}${h.concurrency !== h.configuredConcurrency ? ` (of ${h.configuredConcurrency})` : ''}`).join(', ');
  const drain = async (w: WorkerStats) => {
    if (await action.run(() => call(client.POST('/api/v1/admin/workers/{id}/drain', { params: { path: { id: w.id } } })), `${w.service} ${w.host}:${w.pid} is draining: it finishes its work and exits`)) stats.reload();
  };
  const setConcurrency = async (value: number | null) => {
    if (await action.run(() => call(client.PUT('/api/v1/admin/consumers/{consumer}/concurrency', { params: { path: { consumer } }, body: { concurrency: value } })), `${consumer}: ${value ?? 'configured'} slots on every worker`)) registered.reload();
  };
  return (
    <Section title="Workers">
      {stats.error ? (
        <LoadError error={stats.error} what="Worker stats" />
      ) : !stats.data ? (
        <Loading />
      ) : (
        <div class="table-scroll">
          <table>
            <thead>
              <tr>
                <th>service</th>
                <th>host:pid</th>
                <th>status</th>
                <th>handled</th>
                <th>failed</th>
                <th>retried</th>
                <th>memory</th>
                <th>lag p99</th>
                <th>slots</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {stats.data.items.map((w) => (
                <tr key={w.id}>
                  <td>{w.service}</td>
                  <td>
                    {w.host}:{w.pid}
                  </td>
                  <td>
                    <Badge status={w.status} />
                  </td>
                  <td class="num">{w.handled}</td>
                  <td class="num">{w.failed}</td>
                  <td class="num">{w.retried}</td>
                  <td class="num">{w.process ? `${Math.round(w.process.rssBytes / 1048576)} MiB` : '—'}</td>
                  <td class="num">{w.process ? `${w.process.eventLoopLagMs.p99} ms` : '—'}</td>
                  <td>{slotsOf(w.id) || <span class="muted">—</span>}</td>
                  <td>
                    {w.service !== 'gateway' && w.status === 'alive' && (
                      <Button variant="danger" disabled={action.pending} onClick={() => drain(w)}>
                        Drain
                      </Button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <div class="toolbar">
        <label>
          Consumer{' '}
          <select value={consumer} onChange={(e) => setConsumer((e.target as HTMLSelectElement).value)}>
            <option value="">choose…</option>
            {consumers.map((c) => (
              <option key={c} value={c}>
                {c}
              </option>
            ))}
          </select>
        </label>
        <label>
          Slots <input type="number" min={1} max={1024} value={slots} onInput={(e) => setSlots((e.target as HTMLInputElement).value)} />
        </label>
        <Button disabled={!consumer || !slots || action.pending} onClick={() => setConcurrency(Number(slots))}>
          Set on every worker
        </Button>
        <Button disabled={!consumer || action.pending} onClick={() => setConcurrency(null)}>
          Back to configured
        </Button>
      </div>
      <Flash message={action.message} />
    </Section>
  );
}
