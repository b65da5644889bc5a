import { useState } from 'preact/hooks';
import { call, client } from '../api.js';
import { Button, Flash, LoadError, Loading, Section, Time } from '../components.js';
import { useAction, useApi } from '../hooks.js';
import { path, type Revision } from './task-shared.js';

// The task page's review parts: the review panel, a revision's diff and framework, the revision history.
/** The framework waiting for a person: what the latest revision changed, then approve or ask for a revision. */
export function ReviewPanel(props: { roadmapId: string; onChanged: () => void }) {
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
export function Revisions(props: { roadmapId: string }) {
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
