import { call, client } from '../api.js';
import { Badge, Link, LoadError, Loading, Progress, Section, ShortId } from '../components.js';
import { useApi } from '../hooks.js';

/** At most this many children listed (a batch has up to 1,000; the counts above cover the rest). */
const CHILDREN_SHOWN = 200;

/** A parent's children (a batch's roadmaps): each with its state, progress and a link to its own page. */
export function Children(props: { taskId: string; counts: Record<string, number> }) {
  const list = useApi(`/tasks?parentId=${props.taskId}`, () =>
    call(client.GET('/api/v1/tasks', { params: { query: { parentId: props.taskId, limit: CHILDREN_SHOWN } } })),
    5000,
  );
  const { total, ...byStatus } = props.counts;
  const summary = Object.entries(byStatus)
    .filter(([, n]) => n > 0)
    .map(([status, n]) => `${n} ${status.replace('_', ' ')}`)
    .join(' · ');
  return (
    <Section title={`Children (${total})`} id="children">
      <p class="muted note">{summary}</p>
      {list.error ? (
        <LoadError error={list.error} what="The children" />
      ) : !list.data ? (
        <Loading />
      ) : (
        <div class="table-scroll">
          <table class="tasks children">
            <thead>
              <tr>
                <th>task</th>
                <th>type</th>
                <th>status</th>
                <th>step</th>
                <th>progress</th>
                <th>roadmap</th>
              </tr>
            </thead>
            <tbody>
              {list.data.items.map((child) => (
                <tr key={child.id}>
                  <td>
                    <Link href={`/tasks/${child.id}`}>
                      <ShortId id={child.id} />
                    </Link>
                  </td>
                  <td>{child.type}</td>
                  <td>
                    <Badge status={child.status} title={child.error ? `${child.error.code}: ${child.error.message}` : undefined} />
                  </td>
                  <td>{child.currentStep ?? '—'}</td>
                  <td>
                    <Progress done={child.progress.done} failed={child.progress.failed} total={child.progress.total} />
                  </td>
                  <td>{child.roadmapId ? <ShortId id={child.roadmapId} /> : '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Section>
  );
}
