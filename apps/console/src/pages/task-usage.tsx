import { useEffect, useState } from 'preact/hooks';
import { call, client } from '../api.js';
import { Button, LoadError, Loading, ObjectTable, Section, Value } from '../components.js';
import { useApi } from '../hooks.js';
import type { LogEntry, Task } from './task-shared.js';

// The task page's records: its LLM calls with their usage, and its execution log.
/** LLM calls of the task (GET /tasks/:id/llm-calls) and the usage on the task view, when the gateway has them. */
export function LlmCalls(props: { taskId: string; usage: Task['usage']; active: boolean; status: string; concepts: Task['concepts'] }) {
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
export function Logs(props: { taskId: string }) {
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
