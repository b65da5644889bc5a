import { useState } from 'preact/hooks';
import type { CreateRoadmapRequest, operations } from '@roadmap/client';
import { call, client, query } from '../api.js';
import { Badge, Button, Flash, Link, LoadError, Loading, Progress, Section, ShortId, Time } from '../components.js';
import { useAction, useApi } from '../hooks.js';
import { navigate } from '../router.js';

const STATUSES: readonly Status[] = ['queued', 'running', 'awaiting_review', 'completed', 'failed', 'cancelled'];
const PAGE_SIZE = 25;

type Status = NonNullable<NonNullable<operations['listConsoleTasks']['parameters']['query']>['status']>;
type Preferences = NonNullable<CreateRoadmapRequest['preferences']>;

/** Tasks newest first, filtered by status and a search (goal words or an id), cursor-paged; and a form for a new roadmap. */
export function Tasks(props: { search: URLSearchParams }) {
  const status = (props.search.get('status') ?? '') as Status | '';
  const q = props.search.get('q') ?? '';
  const [cursors, setCursors] = useState<string[]>([]);
  const [text, setText] = useState(q);
  const cursor = cursors.at(-1);
  const list = useApi(
    `/console/tasks${query({ status, q, cursor })}`,
    () => call(client.GET('/api/v1/console/tasks', { params: { query: { status: status || undefined, q: q || undefined, limit: PAGE_SIZE, cursor } } })),
    cursor ? undefined : 5000,
  );

  const setFilter = (next: { status?: string; q?: string }) => {
    setCursors([]);
    navigate(`/tasks${query({ status: next.status ?? status, q: next.q ?? q })}`, true);
  };

  return (
    <div class="page">
      <h1>Tasks</h1>
      <NewRoadmap />
      <Section title="All tasks">
        <form
          class="filters"
          onSubmit={(e) => {
            e.preventDefault();
            setFilter({ q: text.trim() });
          }}
        >
          <label>
            Status{' '}
            <select name="status" value={status} onChange={(e) => setFilter({ status: (e.target as HTMLSelectElement).value })}>
              <option value="">any</option>
              {STATUSES.map((s) => (
                <option key={s} value={s}>
                  {s.replace('_', ' ')}
                </option>
              ))}
            </select>
          </label>
          <input type="search" name="q" placeholder="Search goal or id…" value={text} onInput={(e) => setText((e.target as HTMLInputElement).value)} />
          <Button type="submit">Search</Button>
        </form>
        {list.error ? (
          <LoadError error={list.error} what="The task list" />
        ) : !list.data ? (
          <Loading />
        ) : list.data.items.length === 0 ? (
          <p class="muted note">No task matches.</p>
        ) : (
          <div class="table-scroll">
            <table class="tasks">
              <thead>
                <tr>
                  <th>task</th>
                  <th>goal</th>
                  <th>status</th>
                  <th>step</th>
                  <th>progress</th>
                  <th>priority</th>
                  <th>created</th>
                </tr>
              </thead>
              <tbody>
                {list.data.items.map((t) => (
                  <tr key={t.id}>
                    <td>
                      <Link href={`/tasks/${t.id}`}>
                        <ShortId id={t.id} />
                      </Link>
                    </td>
                    <td class="goal">
                      <Link href={`/tasks/${t.id}`}>{t.goal ?? '—'}</Link>
                    </td>
                    <td>
                      <Badge status={t.status} />
                    </td>
                    <td>{t.currentStep ?? <span class="muted">—</span>}</td>
                    <td>
                      <Progress done={t.progress.done} failed={t.progress.failed} total={t.progress.total} />
                    </td>
                    <td>{t.priority}</td>
                    <td>
                      <Time at={t.createdAt} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <div class="pager">
          <Button disabled={cursors.length === 0} onClick={() => setCursors(cursors.slice(0, -1))}>
            ← Newer
          </Button>
          <span class="muted">page {cursors.length + 1}</span>
          <Button disabled={!list.data?.nextCursor} onClick={() => list.data?.nextCursor && setCursors([...cursors, list.data.nextCursor])}>
            Older →
          </Button>
        </div>
      </Section>
    </div>
  );
}

/** POST /api/v1/roadmaps from the console; opens the new task's page. */
function NewRoadmap() {
  const [open, setOpen] = useState(false);
  const [goal, setGoal] = useState('');
  const [level, setLevel] = useState<NonNullable<Preferences['level']>>('beginner');
  const [hours, setHours] = useState(8);
  const [priority, setPriority] = useState<NonNullable<CreateRoadmapRequest['priority']>>('normal');
  const [review, setReview] = useState(true);
  const action = useAction();
  if (!open) {
    return (
      <div class="toolbar">
        <Button variant="primary" onClick={() => setOpen(true)}>
          New roadmap
        </Button>
      </div>
    );
  }
  const submit = async (e: Event) => {
    e.preventDefault();
    let taskId = '';
    const ok = await action.run(async () => {
      const accepted = await call(
        client.POST('/api/v1/roadmaps', {
          body: { goal: goal.trim(), preferences: { level, hoursPerWeek: hours }, priority, review: review ? 'required' : 'skip' },
        }),
      );
      taskId = accepted.taskId;
    }, 'Roadmap accepted');
    if (ok) navigate(`/tasks/${taskId}`);
  };
  return (
    <Section title="New roadmap">
      <form class="form-grid" onSubmit={submit}>
        <label>
          Goal
          <input name="goal" required minLength={3} maxLength={500} value={goal} onInput={(e) => setGoal((e.target as HTMLInputElement).value)} placeholder="Become a backend engineer" />
        </label>
        <label>
          Level
          <select name="level" value={level} onChange={(e) => setLevel((e.target as HTMLSelectElement).value as typeof level)}>
            <option value="beginner">beginner</option>
            <option value="intermediate">intermediate</option>
            <option value="advanced">advanced</option>
          </select>
        </label>
        <label>
          Hours per week
          <input name="hoursPerWeek" type="number" min={1} max={80} value={hours} onInput={(e) => setHours(Number((e.target as HTMLInputElement).value))} />
        </label>
        <label>
          Priority
          <select name="priority" value={priority} onChange={(e) => setPriority((e.target as HTMLSelectElement).value as typeof priority)}>
            <option value="high">high</option>
            <option value="normal">normal</option>
            <option value="low">low</option>
          </select>
        </label>
        <label class="check">
          <input name="review" type="checkbox" checked={review} onChange={(e) => setReview((e.target as HTMLInputElement).checked)} /> A person reviews the framework before content is generated
        </label>
        <div class="form-actions">
          <Button type="submit" variant="primary" disabled={action.pending}>
            Create roadmap
          </Button>
          <Button onClick={() => setOpen(false)}>Close</Button>
        </div>
        <Flash message={action.message} />
      </form>
    </Section>
  );
}
