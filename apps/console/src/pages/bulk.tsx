import { useEffect, useState } from 'preact/hooks';
import type { BulkDryRun, BulkJob, BulkJobStarted, operations } from '@roadmap/client';
import { call, client, type Identity } from '../api.js';
import { AdminOnly, Badge, Button, Flash, Link, Progress, Section, ShortId } from '../components.js';
import { useAction } from '../hooks.js';

const ACTIONS = ['cancel', 'resume', 'retry-failed-items'] as const;
const STATUSES = ['queued', 'running', 'awaiting_review', 'completed', 'failed', 'cancelled'] as const;

type Filter = operations['bulkTasks']['requestBody']['content']['application/json']['filter'];
type Job = BulkJob | BulkJobStarted;

/**
 * Bulk actions (admin): choose an action and a filter, see what it matches (a dry run: the count and
 * a sample), then run it (an admin.bulk task in the workflow worker) and watch its progress.
 */
export function Bulk(props: { identity: Identity }) {
  const [action, setAction] = useState<(typeof ACTIONS)[number]>('cancel');
  const [status, setStatus] = useState<(typeof STATUSES)[number] | ''>('');
  const [owner, setOwner] = useState('');
  const [type, setType] = useState('');
  const [errorCode, setErrorCode] = useState('');
  const [dry, setDry] = useState<BulkDryRun | null>(null);
  const [job, setJob] = useState<Job | null>(null);
  const run = useAction();

  const filter = (): Filter =>
    Object.fromEntries(Object.entries({ status: status || undefined, owner: owner || undefined, type: type || undefined, errorCode: errorCode || undefined }).filter(([, v]) => v !== undefined)) as Filter;
  // A changed filter or action needs a new dry run before it can run.
  useEffect(() => setDry(null), [action, status, owner, type, errorCode]);
  useEffect(() => {
    if (!job || job.status !== 'running') return;
    const timer = setTimeout(() => void call(client.GET('/api/v1/admin/jobs/{id}', { params: { path: { id: job.jobId } } })).then(setJob, () => undefined), 500);
    return () => clearTimeout(timer);
  }, [job]);

  if (props.identity.role !== 'admin') {
    return <AdminOnly title="Bulk actions" note="Bulk actions are for the admin role only." />;
  }
  const send = (dryRun: boolean) => call(client.POST('/api/v1/admin/tasks/bulk', { body: { action, filter: filter(), dryRun } }));
  const preview = () =>
    run.run(async () => {
      const answer = await send(true);
      if ('dryRun' in answer) setDry(answer);
    }, 'Dry run: nothing was changed');
  const start = () =>
    run.run(async () => {
      const answer = await send(false);
      if (!('dryRun' in answer)) setJob(answer);
      setDry(null);
    }, 'Started');

  return (
    <div class="page">
      <h1>Bulk actions</h1>
      <Section title="Tasks">
        <form
          class="toolbar"
          onSubmit={(e) => {
            e.preventDefault();
            void preview();
          }}
        >
          <label>
            Action{' '}
            <select name="action" value={action} onChange={(e) => setAction((e.target as HTMLSelectElement).value as (typeof ACTIONS)[number])}>
              {ACTIONS.map((a) => (
                <option key={a} value={a}>
                  {a}
                </option>
              ))}
            </select>
          </label>
          <label>
            Status{' '}
            <select name="status" value={status} onChange={(e) => setStatus((e.target as HTMLSelectElement).value as (typeof STATUSES)[number] | '')}>
              <option value="">any</option>
              {STATUSES.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          </label>
          <label>
            Owner <input name="owner" value={owner} onInput={(e) => setOwner((e.target as HTMLInputElement).value)} />
          </label>
          <label>
            Type <input name="type" value={type} onInput={(e) => setType((e.target as HTMLInputElement).value)} />
          </label>
          <label>
            Error code <input name="errorCode" value={errorCode} onInput={(e) => setErrorCode((e.target as HTMLInputElement).value)} />
          </label>
          <Button type="submit" disabled={run.pending}>
            Dry run
          </Button>
        </form>
        {dry && (
          <div class="dry-run" role="region" aria-label="Dry run">
            <p>
              <strong>{dry.matched}</strong> tasks match{dry.willActOn < dry.matched ? ` (this call acts on the oldest ${dry.willActOn})` : ''}. Sample:{' '}
              {dry.sample.map((id) => (
                <span key={id}>
                  <Link href={`/tasks/${id}`}>
                    <ShortId id={id} />
                  </Link>{' '}
                </span>
              ))}
            </p>
            <Button variant="danger" disabled={run.pending} onClick={start}>
              {action} {dry.willActOn} tasks
            </Button>
          </div>
        )}
        <Flash message={run.message} />
      </Section>
      {job && (
        <Section title="Job">
          <p>
            {job.action} <Badge status={job.status} />{' '}
            <Link href={`/tasks/${job.taskId}`}>
              task <ShortId id={job.taskId} />
            </Link>
          </p>
          <Progress done={job.done + job.skipped} failed={job.failed} total={job.total} />
          <p class="muted">
            done {job.done}, skipped {job.skipped}, failed {job.failed}
          </p>
          {job.errors.length > 0 && (
            <ul>
              {job.errors.slice(0, 10).map((e) => (
                <li key={e.id}>
                  <ShortId id={e.id} /> {e.code}: {e.message}
                </li>
              ))}
            </ul>
          )}
        </Section>
      )}
    </div>
  );
}
