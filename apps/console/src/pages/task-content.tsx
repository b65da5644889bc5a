import { useEffect, useState } from 'preact/hooks';
import type { Roadmap } from '@roadmap/client';
import { call, client } from '../api.js';
import { Badge, Button, Flash, Loading, Section } from '../components.js';
import { useAction } from '../hooks.js';
import { KINDS, path, type Kind, type RoadmapConcept, type Task } from './task-shared.js';

// The task page's concepts: each concept's content status and actions, and its generated content.
/** Per concept the state of each item, with a retry per item and a link to its content. */
export function Concepts(props: { task: Task; onChanged: () => void; selected: string | null; onSelect: (id: string | null) => void }) {
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
export function ConceptContent(props: { roadmapId: string; conceptId: string; version: number; onClose: () => void }) {
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
