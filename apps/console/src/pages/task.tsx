import { useEffect, useRef, useState } from 'preact/hooks';
import type { LogPage, Revisions as RevisionList, Roadmap, TaskDetail } from '@roadmap/client';
import { call, client } from '../api.js';
import { Badge, Button, duration, Flash, Link, LoadError, Loading, ObjectTable, Progress, Section, ShortId, Time, Value } from '../components.js';
import { useAction, useApi } from '../hooks.js';
import { followTaskEvents, type TaskEvent } from '../sse.js';
import { Children } from './task-children.js';

const KINDS = ['tutorial', 'resources', 'quiz'] as const;
type Kind = (typeof KINDS)[number];
const FINAL = ['completed', 'failed', 'cancelled'];

type Task = TaskDetail;
type Revision = RevisionList['items'][number];
type RoadmapConcept = Roadmap['stages'][number]['concepts'][number];
type LogEntry = LogPage['items'][number];
const path = (id: string) => ({ params: { path: { id } } });

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

/** The framework waiting for a person: what the latest revision changed, then approve or ask for a revision. */
function ReviewPanel(props: { roadmapId: string; onChanged: () => void }) {
  const revisions = useApi(`/roadmaps/${props.roadmapId}/revisions`, () => call(client.GET('/api/v1/roadmaps/{id}/revisions', path(props.roadmapId))));
  const [feedback, setFeedback] = useState('');
  const action = useAction();
  const decide = async (body: { decision: 'approve' } | { decision: 'revise'; feedback: string }, done: string) => {
    if (await action.run(() => call(client.POST('/api/v1/roadmaps/{id}/review', { ...path(props.roadmapId), body })), done)) {
      setFeedback('');
      props.onChanged();
    }
  };
  const latest = revisions.data?.items.at(-1);
  return (
    <Section title="Review the framework" id="review">
      {revisions.error ? (
        <LoadError error={revisions.error} what="The revisions" />
      ) : !latest ? (
        <Loading />
      ) : (
        <>
          <p>
            Revision {latest.revision} ({latest.source}
            {latest.feedback ? `: “${latest.feedback}”` : ''}), {latest.concepts} concepts.
          </p>
          <Diff revision={latest} />
          <Framework revision={latest} />
        </>
      )}
      <div class="review-actions">
        <Button variant="primary" disabled={action.pending} onClick={() => decide({ decision: 'approve' }, 'Approved: content generation starts')}>
          Approve
        </Button>
        <textarea name="feedback" rows={2} placeholder="What should change? (e.g. Add a module on GraphQL APIs)" value={feedback} onInput={(e) => setFeedback((e.target as HTMLTextAreaElement).value)} />
        <Button disabled={action.pending || feedback.trim().length === 0} onClick={() => decide({ decision: 'revise', feedback: feedback.trim() }, 'Revision requested')}>
          Request revision
        </Button>
      </div>
      <Flash message={action.message} />
    </Section>
  );
}

function Diff(props: { revision: Revision }) {
  const { added, removed, changed } = props.revision.changes;
  if (added.length + removed.length + changed.length === 0) return <p class="muted note">No concept changed from the revision before.</p>;
  return (
    <ul class="diff">
      {added.map((c) => (
        <li key={`a${c.id}`} class="diff-add">
          + {c.title}
          {c.stage ? <span class="muted"> ({c.stage})</span> : null}
        </li>
      ))}
      {removed.map((c) => (
        <li key={`r${c.id}`} class="diff-del">
          − {c.title}
          {c.stage ? <span class="muted"> ({c.stage})</span> : null}
        </li>
      ))}
      {changed.map((c) => (
        <li key={`c${c.id}`} class="diff-mod">
          ~ {c.title} <span class="muted">({c.fields.join(', ')})</span>
        </li>
      ))}
    </ul>
  );
}

function Framework(props: { revision: Revision }) {
  return (
    <details class="framework">
      <summary>The whole framework</summary>
      <ol>
        {props.revision.framework.stages.map((s) => (
          <li key={s.id}>
            <strong>{s.title}</strong>
            <ul>
              {s.concepts.map((c) => (
                <li key={c.id}>{c.title}</li>
              ))}
            </ul>
          </li>
        ))}
      </ol>
    </details>
  );
}

/** Every framework revision (design, validation repairs, review revisions) with what it changed. */
function Revisions(props: { roadmapId: string }) {
  const revisions = useApi(`/roadmaps/${props.roadmapId}/revisions`, () => call(client.GET('/api/v1/roadmaps/{id}/revisions', path(props.roadmapId))));
  if (revisions.error) return <Section title="Framework revisions"><LoadError error={revisions.error} what="The revisions" /></Section>;
  if (!revisions.data || revisions.data.items.length === 0) return null;
  return (
    <Section title="Framework revisions">
      {revisions.data.items.map((r) => (
        <details key={r.revision} class="revision">
          <summary>
            Revision {r.revision} · {r.source}
            {r.feedback ? ` · “${r.feedback}”` : ''} · {r.concepts} concepts · <Time at={r.createdAt} />
          </summary>
          <Diff revision={r} />
        </details>
      ))}
    </Section>
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

/** Per concept the state of each item, with a retry per item and a link to its content. */
function Concepts(props: { task: Task; onChanged: () => void; selected: string | null; onSelect: (id: string | null) => void }) {
  const action = useAction();
  const concepts = props.task.concepts ?? [];
  const retry = async (conceptId: string, kind: Kind, title: string) => {
    if (await action.run(() => call(client.POST('/api/v1/roadmaps/{id}/concepts/{conceptId}/retry', { params: { path: { id: props.task.roadmapId!, conceptId } }, body: { kinds: [kind] } })), `Regenerating the ${kind} of “${title}”`)) props.onChanged();
  };
  return (
    <Section title={`Concepts (${concepts.length})`}>
      <Flash message={action.message} />
      {concepts.length === 0 ? (
        <p class="muted note">No concept yet: they appear once the framework is designed and content generation starts.</p>
      ) : (
        <div class="table-scroll">
          <table class="concepts">
            <thead>
              <tr>
                <th>concept</th>
                {KINDS.map((k) => (
                  <th key={k}>{k}</th>
                ))}
              </tr>
            </thead>
            <tbody>
              {concepts.map((c) => (
                <tr key={c.id} class={props.selected === c.id ? 'selected' : ''}>
                  <td>
                    <a
                      href="#content"
                      onClick={(e) => {
                        e.preventDefault();
                        props.onSelect(props.selected === c.id ? null : c.id);
                      }}
                    >
                      {c.title}
                    </a>
                  </td>
                  {KINDS.map((k) => {
                    const state = c.items[k] ?? 'pending';
                    const retryable = props.task.roadmapId && ['completed', 'failed'].includes(state);
                    return (
                      <td key={k}>
                        <Badge status={state} />
                        {retryable && (
                          <button type="button" class="icon-btn" title={`Regenerate the ${k}`} aria-label={`Retry ${k} of ${c.title}`} disabled={action.pending} onClick={() => retry(c.id, k, c.title)}>
                            ↻
                          </button>
                        )}
                      </td>
                    );
                  })}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Section>
  );
}

/** A concept's tutorial, resources and quiz as a learner would read them. */
function ConceptContent(props: { roadmapId: string; conceptId: string; version: number; onClose: () => void }) {
  const [roadmap, setRoadmap] = useState<Roadmap | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    call(client.GET('/api/v1/roadmaps/{id}', path(props.roadmapId))).then(setRoadmap, (err: Error) => setError(err.message));
  }, [props.roadmapId, props.version]);
  const concept = roadmap?.stages.flatMap((s) => s.concepts).find((c) => c.id === props.conceptId);
  return (
    <Section title={concept ? concept.title : 'Content'} id="content" actions={<Button onClick={props.onClose}>Close</Button>}>
      {error ? (
        <p class="error note">{error}</p>
      ) : !concept ? (
        <Loading />
      ) : (
        <div class="content">
          {concept.summary && <p class="lead">{concept.summary}</p>}
          {KINDS.map((kind) => (
            <ContentBlock key={kind} kind={kind} concept={concept} />
          ))}
        </div>
      )}
    </Section>
  );
}

function ContentBlock(props: { kind: Kind; concept: RoadmapConcept }) {
  const { kind } = props;
  const { tutorial, resources, quiz } = props.concept.content;
  const item = props.concept.content[kind];
  return (
    <article class="content-block">
      <h3>
        {kind} <Badge status={item.status} /> {item.promptVersion && <span class="muted small">{item.promptVersion}</span>}
      </h3>
      {item.error && <p class="error note">{item.error.message ?? JSON.stringify(item.error)}</p>}
      {!item.content ? (
        <p class="muted note">No content yet.</p>
      ) : kind === 'tutorial' && tutorial.content ? (
        <>
          <h4>{tutorial.content.title}</h4>
          <p>{tutorial.content.summary}</p>
          {tutorial.content.sections.map((s, i) => (
            <div key={i}>
              <h5>{s.heading}</h5>
              <p class="prose">{s.body}</p>
            </div>
          ))}
          {tutorial.content.keyTakeaways.length > 0 && (
            <ul>
              {tutorial.content.keyTakeaways.map((k, i) => (
                <li key={i}>{k}</li>
              ))}
            </ul>
          )}
        </>
      ) : kind === 'resources' && resources.content ? (
        <ul>
          {resources.content.resources.map((r, i) => (
            <li key={i}>
              <strong>{r.title}</strong> <span class="muted">({r.type}{r.free ? ', free' : ''})</span> — <span class="url">{r.url}</span>
              <div class="muted">{r.description}</div>
            </li>
          ))}
        </ul>
      ) : (
        <ol>
          {(quiz.content?.questions ?? []).map((q, i) => (
            <li key={i}>
              {q.question}
              <ul class="options">
                {q.options.map((o, j) => (
                  <li key={j} class={j === q.answerIndex ? 'answer' : ''}>
                    {o}
                  </li>
                ))}
              </ul>
            </li>
          ))}
        </ol>
      )}
    </article>
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

/** LLM calls of the task (GET /tasks/:id/llm-calls) and the usage on the task view, when the gateway has them. */
function LlmCalls(props: { taskId: string; usage: Task['usage']; active: boolean; status: string; concepts: Task['concepts'] }) {
  const calls = useApi(
    `/tasks/${props.taskId}/llm-calls`,
    () => call(client.GET('/api/v1/tasks/{id}/llm-calls', { params: { path: { id: props.taskId }, query: { limit: 200 } } })),
    props.active ? 5000 : undefined,
  );
  // Once more when the task changes state (it may finish between two polls).
  const reload = calls.reload;
  useEffect(() => reload(), [props.status, reload]);
  const titles = new Map(props.concepts.map((c) => [c.id, c.title]));
  return (
    <Section title="LLM calls and usage">
      <div class="usage">
        {Object.entries(props.usage).map(([k, v]) => (
          <div key={k} class="usage-item">
            <span class="muted">{k.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase()}</span>
            <Value value={v} />
          </div>
        ))}
      </div>
      {calls.error ? (
        <LoadError error={calls.error} what="LLM call records" />
      ) : !calls.data ? (
        <Loading />
      ) : (
        <div class="scroll-box">
        <ObjectTable
          rows={calls.data.items.map((c) => ({ ...c, subject: subjectLabel(c.subject, titles) }))}
          columns={['startedAt', 'subject', 'provider', 'model', 'promptVersion', 'attempt', 'outcome', 'inputTokens', 'outputTokens', 'costUsd', 'latencyMs', 'error']}
          hide={['id', 'links', 'createdAt']}
          empty="No LLM call recorded for this task."
        />
        </div>
      )}
    </Section>
  );
}

/** An LLM call's subject is a step (curriculum_design) or an item (<conceptId>:<kind>): the latter by its concept's title. */
function subjectLabel(subject: unknown, titles: Map<string, string>): unknown {
  if (typeof subject !== 'string') return subject;
  const [conceptId, kind] = subject.split(':');
  const title = conceptId ? titles.get(conceptId) : undefined;
  return title && kind ? `${title} · ${kind}` : subject;
}

/** Execution logs, oldest first, a page at a time. */
function Logs(props: { taskId: string }) {
  const [pages, setPages] = useState<LogEntry[][]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  // Polled: the log sink writes entries in batches, after the events that announce the work.
  const logs = (cursor?: string) => call(client.GET('/api/v1/tasks/{id}/logs', { params: { path: { id: props.taskId }, query: { limit: 200, cursor } } }));
  const first = useApi(`/tasks/${props.taskId}/logs`, () => logs(), 5000);
  const more = async () => {
    const next = cursor ?? first.data?.nextCursor;
    if (!next) return;
    const page = await logs(next);
    setPages([...pages, page.items]);
    setCursor(page.nextCursor);
  };
  const entries = [...(first.data?.items ?? []), ...pages.flat()];
  const hasMore = pages.length === 0 ? Boolean(first.data?.nextCursor) : cursor !== null;
  return (
    <Section title="Execution logs">
      {first.error ? (
        <LoadError error={first.error} what="Execution logs" />
      ) : !first.data ? (
        <Loading />
      ) : entries.length === 0 ? (
        <p class="muted note">No log entry yet.</p>
      ) : (
        <div class="table-scroll logs">
          <table>
            <thead>
              <tr>
                <th>time</th>
                <th>level</th>
                <th>service</th>
                <th>step</th>
                <th>message</th>
              </tr>
            </thead>
            <tbody>
              {entries.map((l) => (
                <tr key={l.id} class={`log-${l.level}`}>
                  <td class="nowrap">{new Date(l.at).toLocaleTimeString()}</td>
                  <td>{l.level}</td>
                  <td class="nowrap" title={l.instance}>
                    {l.service}
                  </td>
                  <td>{l.step ?? ''}</td>
                  <td>
                    {l.message}
                    {l.data ? <code class="json-inline"> {JSON.stringify(l.data)}</code> : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {hasMore && <Button onClick={more}>Load more</Button>}
    </Section>
  );
}
