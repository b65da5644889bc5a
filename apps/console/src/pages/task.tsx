import { useEffect, useRef, useState } from 'preact/hooks';
import { call, client } from '../api.js';
import { Badge, Button, duration, Flash, Link, LoadError, Loading, Progress, Section, ShortId, Time } from '../components.js';
import { useAction, useApi } from '../hooks.js';
import { followTaskEvents, type TaskEvent } from '../sse.js';
import { Children } from './task-children.js';
import { ConceptContent, Concepts } from './task-content.js';
import { ReviewPanel, Revisions } from './task-review.js';
import { path, type Task } from './task-shared.js';
import { LlmCalls, Logs } from './task-usage.js';

const FINAL = ['completed', 'failed', 'cancelled'];

/** One task: status, actions, steps, live events, concepts and their content, review, logs, LLM calls. */
export function TaskPage(props: { id: string }) {
  const task = useApi(`/tasks/${props.id}`, () => call(client.GET('/api/v1/tasks/{id}', path(props.id))), 5000);
  const roadmapId = task.data?.roadmapId ?? null;
  const roadmap = useApi(roadmapId ? `/roadmaps/${roadmapId}` : null, () => call(client.GET('/api/v1/roadmaps/{id}', path(roadmapId!))));
  const [events, setEvents] = useState<TaskEvent[]>([]);
  const [live, setLive] = useState<string>('connecting');
  const [selectedConcept, setSelectedConcept] = useState<string | null>(null);
  const reload = useRef(task.reload);
  reload.current = task.reload;
  const status = task.data?.status;

  // Live progress: every event refreshes the task view (debounced), so badges move as items land.
  // A resumed, retried or reviewed task has new events: following starts again when it is active.
  const active = status !== undefined && !FINAL.includes(status);
  // An action (review, retry, resume) starts new work: follow again even if the task finished before
  // a poll saw it running (the stream of a finished task has ended).
  const [actions, setActions] = useState(0);
  const changed = () => {
    setActions((n) => n + 1);
    task.reload();
  };
  const follow = status === undefined ? null : `${active}:${actions}`;
  useEffect(() => {
    if (follow === null) return;
    setEvents([]);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stop = followTaskEvents(props.id, {
      onEvent: (event) => {
        setEvents((list) => (list.some((e) => e.id === event.id) ? list : [...list, event]));
        clearTimeout(timer);
        timer = setTimeout(() => reload.current(), 250);
      },
      onState: setLive,
    });
    return () => {
      clearTimeout(timer);
      stop();
    };
  }, [props.id, follow]);

  if (task.error) return <div class="page"><h1>Task</h1><LoadError error={task.error} what="This task" /></div>;
  if (!task.data) return <div class="page"><h1>Task</h1><Loading /></div>;
  const t = task.data;

  return (
    <div class="page">
      <p class="crumbs">
        <Link href="/tasks">Tasks</Link> / <ShortId id={t.id} />
      </p>
      <h1 class="title-row">
        <span>{roadmap.data?.goal ?? t.type}</span> <Badge status={t.status} />
      </h1>
      <Summary task={t} live={live} />
      <Actions task={t} onChanged={changed} />
      {t.status === 'awaiting_review' && t.roadmapId && <ReviewPanel roadmapId={t.roadmapId} onChanged={changed} />}
      {t.children && <Children taskId={t.id} counts={t.children} />}
      <Steps events={events} task={t} />
      {t.roadmapId && <Concepts task={t} onChanged={changed} selected={selectedConcept} onSelect={setSelectedConcept} />}
      {selectedConcept && t.roadmapId && <ConceptContent roadmapId={t.roadmapId} conceptId={selectedConcept} version={t.progress.done} onClose={() => setSelectedConcept(null)} />}
      {t.roadmapId && t.status !== 'awaiting_review' && <Revisions roadmapId={t.roadmapId} />}
      <Events events={events} live={live} />
      <LlmCalls taskId={t.id} usage={t.usage} active={active} status={t.status} concepts={t.concepts ?? []} />
      <Logs taskId={t.id} />
    </div>
  );
}

function Summary(props: { task: Task; live: string }) {
  const t = props.task;
  return (
    <Section title="Status">
      <div class="summary">
        <dl>
          <dt>status</dt>
          <dd>
            <Badge status={t.status} /> <span class={`live live-${props.live}`}>{props.live === 'live' ? '● live' : props.live}</span>
          </dd>
          <dt>step</dt>
          <dd>{t.currentStep ?? '—'}</dd>
          <dt>progress</dt>
          <dd>
            <Progress done={t.progress.done} failed={t.progress.failed} total={t.progress.total} />
          </dd>
          <dt>priority</dt>
          <dd>{t.priority}</dd>
          <dt>review</dt>
          <dd>{t.reviewMode ?? '—'}</dd>
        </dl>
        <dl>
          <dt>task</dt>
          <dd>
            <code>{t.id}</code>
          </dd>
          <dt>roadmap</dt>
          <dd>{t.roadmapId ? <code>{t.roadmapId}</code> : '—'}</dd>
          {t.parentId && (
            <>
              <dt>parent</dt>
              <dd>
                <Link href={`/tasks/${t.parentId}`}>
                  <ShortId id={t.parentId} />
                </Link>
              </dd>
            </>
          )}
          <dt>created</dt>
          <dd>
            <Time at={t.createdAt} />
          </dd>
          <dt>ran</dt>
          <dd>{t.startedAt ? duration(t.startedAt, t.finishedAt) : '—'}</dd>
          <dt>workflow</dt>
          <dd title={t.promptSet ?? undefined}>
            {t.workflowVersion} · attempt {t.attempts}
          </dd>
        </dl>
      </div>
      {t.error && (
        <p class="error note">
          <strong>{t.error.code}</strong>: {t.error.message}
        </p>
      )}
    </Section>
  );
}

function Actions(props: { task: Task; onChanged: () => void }) {
  const t = props.task;
  const action = useAction();
  const act = async (send: () => Promise<unknown>, done: string) => {
    if (await action.run(send, done)) props.onChanged();
  };
  const canCancel = ['queued', 'running', 'awaiting_review'].includes(t.status);
  const canResume = ['failed', 'cancelled'].includes(t.status);
  if (!canCancel && !canResume && !action.message) return null;
  return (
    <div class="toolbar">
      {canCancel && (
        <Button variant="danger" disabled={action.pending} onClick={() => act(() => call(client.POST('/api/v1/tasks/{id}/cancel', path(t.id))), 'Task cancelled')}>
          Cancel task
        </Button>
      )}
      {canResume && (
        <Button variant="primary" disabled={action.pending} onClick={() => act(() => call(client.POST('/api/v1/tasks/{id}/resume', path(t.id))), 'Task resumed from its last checkpoint')}>
          Resume
        </Button>
      )}
      <Flash message={action.message} />
    </div>
  );
}

/** The workflow's steps from the event stream: started, finished, how long. */
function Steps(props: { events: TaskEvent[]; task: Task }) {
  const steps: Array<{ step: string; started: string | undefined; finished: string | undefined; state: string }> = [];
  for (const e of props.events) {
    const step = 'step' in e.data ? e.data.step : e.type === 'content.started' ? 'content_generation' : undefined;
    if (!step) continue;
    const open = [...steps].reverse().find((s) => s.step === step && !s.finished);
    if (e.type === 'step.started' || e.type === 'content.started') steps.push({ step, started: e.data.at, finished: undefined, state: 'running' });
    else if (e.type === 'step.completed' && open) Object.assign(open, { finished: e.data.at, state: 'completed' });
    else if (e.type === 'step.completed') steps.push({ step, started: undefined, finished: e.data.at, state: 'completed' });
  }
  const final = FINAL.includes(props.task.status);
  for (const s of steps) {
    if (s.state !== 'running') continue;
    if (s.step === 'content_generation' && props.task.status === 'completed') Object.assign(s, { state: 'completed', finished: props.task.finishedAt ?? undefined });
    else if (final) s.state = props.task.status;
  }
  return (
    <Section title="Steps">
      {steps.length === 0 ? (
        <p class="muted note">No step has started yet.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th>step</th>
              <th>state</th>
              <th>started</th>
              <th>took</th>
            </tr>
          </thead>
          <tbody>
            {steps.map((s, i) => (
              <tr key={i}>
                <td>{s.step.replace(/_/g, ' ')}</td>
                <td>
                  <Badge status={s.state} />
                </td>
                <td>
                  <Time at={s.started} />
                </td>
                <td>{s.started ? duration(s.started, s.finished) : '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Section>
  );
}

function Events(props: { events: TaskEvent[]; live: string }) {
  const recent = props.events.slice(-40).reverse();
  return (
    <Section title={`Live events (${props.events.length})`} actions={<span class={`live live-${props.live}`}>{props.live}</span>}>
      {recent.length === 0 ? (
        <p class="muted note">No event yet.</p>
      ) : (
        <div class="table-scroll events">
          <table>
            <tbody>
              {recent.map((e) => (
                <tr key={e.id}>
                  <td class="muted">#{e.id}</td>
                  <td>
                    <Time at={e.data.at} />
                  </td>
                  <td>
                    <code>{e.type}</code>
                  </td>
                  <td>{describe(e)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Section>
  );
}

function describe(e: TaskEvent): string {
  const d = e.data;
  const parts: string[] = [];
  if ('step' in d) parts.push(d.step);
  if ('kind' in d) parts.push(d.kind);
  if ('progress' in d) parts.push(`${d.progress.done}/${d.progress.total}${d.progress.failed ? ` (${d.progress.failed} failed)` : ''}`);
  if ('decision' in d) parts.push(d.decision);
  if ('error' in d) parts.push(d.error);
  return parts.join(' · ');
}
