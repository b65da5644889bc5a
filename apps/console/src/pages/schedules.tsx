import { useState } from 'preact/hooks';
import type { BuiltinSchedule, operations, Schedule } from '@roadmap/client';
import { call, client, type Identity } from '../api.js';
import { AdminOnly, Badge, Button, Flash, Link, LoadError, Loading, Section, ShortId, Time } from '../components.js';
import { useAction, useApi } from '../hooks.js';

type CreateBody = operations['createSchedule']['requestBody']['content']['application/json'];
const OVERLAPS = ['skip', 'queue', 'allow'] as const;
const CATCHUPS = ['none', 'latest'] as const;
const PRIORITIES = ['normal', 'high', 'low'] as const;
const schedule = (id: string) => ({ params: { path: { id } } });

/**
 * Schedules (admin): every cron schedule with its next runs, a form to create one, pause and resume,
 * and one schedule's runs; the built-in maintenance jobs are listed beside them, read-only (their runs too).
 */
export function Schedules(props: { identity: Identity; selected: string | null }) {
  if (props.identity.role !== 'admin') {
    return <AdminOnly title="Schedules" note="Schedules are for the admin role only." />;
  }
  return <SchedulesPage selected={props.selected} />;
}

function SchedulesPage(props: { selected: string | null }) {
  const list = useApi('/admin/schedules', () => call(client.GET('/api/v1/admin/schedules')), 5000);
  const action = useAction();
  const act = async (s: Schedule, verb: 'pause' | 'resume') => {
    if (await action.run(() => call(client.POST(`/api/v1/admin/schedules/{id}/${verb}`, schedule(s.id))), `${s.name} ${verb === 'pause' ? 'paused' : 'resumed'}`)) list.reload();
  };
  const items = list.data?.items ?? [];
  const own = items.filter((s): s is Schedule => !s.builtin);
  const builtin = items.filter((s): s is BuiltinSchedule => s.builtin);
  return (
    <div class="page">
      <h1>Schedules</h1>
      <Section title="Schedules">
        {list.error ? (
          <LoadError error={list.error} what="Schedules" />
        ) : !list.data ? (
          <Loading />
        ) : own.length === 0 ? (
          <p class="muted note">No schedules yet.</p>
        ) : (
          <div class="table-scroll">
            <table class="schedules">
              <thead>
                <tr>
                  <th>name</th>
                  <th>cron</th>
                  <th>task</th>
                  <th>overlap / catchup</th>
                  <th>next runs</th>
                  <th>last run</th>
                  <th>state</th>
                  <th />
                </tr>
              </thead>
              <tbody>
                {own.map((s) => (
                  <tr key={s.id} data-schedule={s.name}>
                    <td>
                      <Link href={`/schedules/${s.id}`}>{s.name}</Link>
                    </td>
                    <td>
                      <code>{s.cron}</code> <span class="muted">{s.timezone}</span>
                    </td>
                    <td>
                      {s.type} <span class="muted">as {s.owner}</span>
                    </td>
                    <td>
                      {s.overlap} / {s.catchup}
                    </td>
                    <td class="next-runs">
                      {s.nextRuns.slice(0, 3).map((t) => (
                        <div key={t}>
                          <Time at={t} />
                        </div>
                      ))}
                    </td>
                    <td>{s.lastRun ? <Badge status={s.lastRun.outcome} /> : <span class="muted">—</span>}</td>
                    <td>
                      {s.paused ? (
                        <>
                          <Badge status="paused" /> <span class="muted">by {s.pausedBy}</span>
                        </>
                      ) : (
                        <Badge status="active" />
                      )}
                    </td>
                    <td class="nowrap">
                      {s.paused ? (
                        <Button variant="primary" disabled={action.pending} onClick={() => act(s, 'resume')} aria-label={`Resume ${s.name}`}>
                          Resume
                        </Button>
                      ) : (
                        <Button disabled={action.pending} onClick={() => act(s, 'pause')} aria-label={`Pause ${s.name}`}>
                          Pause
                        </Button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <Flash message={action.message} />
      </Section>
      {props.selected && <Runs id={props.selected} name={items.find((s) => s.id === props.selected)?.name} />}
      <CreateForm onCreated={list.reload} />
      {builtin.length > 0 && (
        <Section title="Built-in maintenance jobs">
          <table>
            <thead>
              <tr>
                <th>job</th>
                <th>every</th>
                <th>last run</th>
                <th>next run</th>
              </tr>
            </thead>
            <tbody>
              {builtin.map((b) => (
                <tr key={b.id}>
                  <td>
                    <Link href={`/schedules/${b.id}`}>{b.name}</Link>
                  </td>
                  <td>{b.intervalSeconds === null ? '—' : `${b.intervalSeconds} s`}</td>
                  <td>
                    {b.lastOutcome ? <Badge status={b.lastOutcome} /> : null} <Time at={b.lastRunAt} />
                  </td>
                  <td>
                    <Time at={b.nextRuns[0] ?? null} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </Section>
      )}
    </div>
  );
}

function Runs(props: { id: string; name: string | undefined }) {
  const [cursor, setCursor] = useState<string | null>(null);
  const runs = useApi(`/admin/schedules/${props.id}/runs?${cursor ?? ''}`, () =>
    call(client.GET('/api/v1/admin/schedules/{id}/runs', { params: { path: { id: props.id }, query: { limit: 25, ...(cursor ? { cursor } : {}) } } })),
  3000);
  return (
    <Section title={`Runs of ${props.name ?? props.id}`} actions={cursor && <Button onClick={() => setCursor(null)}>Newest</Button>}>
      {runs.error ? (
        <LoadError error={runs.error} what="Runs" />
      ) : !runs.data ? (
        <Loading />
      ) : runs.data.items.length === 0 ? (
        <p class="muted note">No occurrence yet.</p>
      ) : (
        <table class="schedule-runs">
          <thead>
            <tr>
              <th>occurrence</th>
              <th>fired at</th>
              <th>outcome</th>
              <th>task</th>
              <th>error</th>
            </tr>
          </thead>
          <tbody>
            {runs.data.items.map((r) => (
              <tr key={r.id}>
                <td>
                  <Time at={r.occurrenceAt} />
                </td>
                <td>
                  <Time at={r.firedAt} />
                </td>
                <td>
                  <Badge status={r.outcome} />
                </td>
                <td>{r.taskId ? <Link href={`/tasks/${r.taskId}`}><ShortId id={r.taskId} /></Link> : <span class="muted">—</span>}</td>
                <td class="muted">{r.error ? `${r.error.code}: ${r.error.message}` : 'rows' in r && r.rows !== null ? `${r.rows} rows in ${r.durationMs} ms` : ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {runs.data?.nextCursor && <Button onClick={() => setCursor(runs.data!.nextCursor)}>Older</Button>}
    </Section>
  );
}

function CreateForm(props: { onCreated: () => void }) {
  const [form, setForm] = useState({ name: '', cron: '0 3 * * *', timezone: 'UTC', type: 'roadmap.generate', input: '{"goal": ""}', overlap: 'skip', catchup: 'none', priority: 'normal' });
  const action = useAction();
  const set = (key: keyof typeof form) => (e: Event) => setForm({ ...form, [key]: (e.target as HTMLInputElement).value });
  const submit = async (e: Event) => {
    e.preventDefault();
    const ok = await action.run(async () => {
      let input: unknown;
      try {
        input = JSON.parse(form.input);
      } catch {
        throw new Error('Input must be JSON, e.g. {"goal": "Learn Go"}');
      }
      const body = { ...form, input } as CreateBody;
      const created = await call(client.POST('/api/v1/admin/schedules', { body }));
      return created;
    }, `Schedule ${form.name} created`);
    if (ok) props.onCreated();
  };
  const text = (key: keyof typeof form, label: string, wide = false) => (
    <label>
      {label} <input name={key} value={form[key]} onInput={set(key)} class={wide ? 'wide' : ''} />
    </label>
  );
  const choice = (key: keyof typeof form, label: string, options: readonly string[]) => (
    <label>
      {label}{' '}
      <select name={key} value={form[key]} onChange={set(key)}>
        {options.map((o) => (
          <option key={o} value={o}>
            {o}
          </option>
        ))}
      </select>
    </label>
  );
  return (
    <Section title="New schedule">
      <form class="toolbar schedule-form" aria-label="New schedule" onSubmit={submit}>
        {text('name', 'Name')}
        {text('cron', 'Cron')}
        {text('timezone', 'Time zone')}
        {text('type', 'Type')}
        {text('input', 'Input (JSON)', true)}
        {choice('priority', 'Priority', PRIORITIES)}
        {choice('overlap', 'Overlap', OVERLAPS)}
        {choice('catchup', 'Catch-up', CATCHUPS)}
        <Button type="submit" variant="primary" disabled={action.pending}>
          Create
        </Button>
      </form>
      <p class="muted note">Cron: 5 fields (minute hour day month weekday), or 6 with seconds first. Overlap: what to do while the previous task runs.</p>
      <Flash message={action.message} />
    </Section>
  );
}
