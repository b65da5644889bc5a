import type { ButtonHTMLAttributes, ComponentChildren } from 'preact';
import type { ApiError } from './api.js';
import { BASE, navigate } from './router.js';

/** A link inside the console: a real href (open in a new tab works), navigation without a reload. */
export function Link(props: { href: string; children: ComponentChildren; class?: string; title?: string }) {
  const onClick = (event: MouseEvent) => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(props.href);
  };
  return (
    <a href={`${BASE}${props.href}`} class={props.class} title={props.title} onClick={onClick}>
      {props.children}
    </a>
  );
}

const BADGE_TONE: Record<string, string> = {
  completed: 'ok',
  running: 'info',
  queued: 'muted',
  pending: 'muted',
  awaiting_review: 'warn',
  failed: 'bad',
  cancelled: 'muted',
  skipped: 'muted',
  replayed: 'info',
  discarded: 'muted',
  alive: 'ok',
  ok: 'ok',
  error: 'bad',
  abandoned: 'warn',
  gone: 'bad',
  paused: 'warn',
  active: 'ok',
};

/** A status as a coloured pill; the text is the status itself (what people search the page for). */
export function Badge(props: { status: string | null | undefined; title?: string }) {
  const status = props.status ?? 'unknown';
  return (
    <span class={`badge badge-${BADGE_TONE[status] ?? 'muted'}`} title={props.title}>
      {status.replace(/_/g, ' ')}
    </span>
  );
}

export function Progress(props: { done: number; failed?: number; total: number; label?: boolean }) {
  const total = Math.max(props.total, 0);
  const pct = (n: number) => (total === 0 ? 0 : Math.min(100, (100 * n) / total));
  return (
    <div class="progress-wrap">
      <div class="progress" role="progressbar" aria-valuemin={0} aria-valuemax={total} aria-valuenow={props.done}>
        <div class="progress-done" style={{ width: `${pct(props.done)}%` }} />
        {props.failed ? <div class="progress-failed" style={{ width: `${pct(props.failed)}%` }} /> : null}
      </div>
      {props.label !== false && (
        <span class="progress-label">
          {props.done}/{total}
          {props.failed ? ` (${props.failed} failed)` : ''}
        </span>
      )}
    </div>
  );
}

/** "3 min ago", with the exact time on hover. */
export function Time(props: { at: string | null | undefined }) {
  if (!props.at) return <span class="muted">—</span>;
  const date = new Date(props.at);
  return (
    <time dateTime={props.at} title={date.toLocaleString()}>
      {relative(date)}
    </time>
  );
}

export function relative(date: Date, now = Date.now()): string {
  const s = Math.round((now - date.getTime()) / 1000);
  if (Math.abs(s) < 5) return 'just now';
  const units: Array<[number, string]> = [
    [86400, 'd'],
    [3600, 'h'],
    [60, 'min'],
    [1, 's'],
  ];
  for (const [size, unit] of units) {
    if (Math.abs(s) >= size) {
      const n = Math.floor(Math.abs(s) / size);
      return s >= 0 ? `${n} ${unit} ago` : `in ${n} ${unit}`;
    }
  }
  return 'just now';
}

export function duration(fromIso: string | null | undefined, toIso?: string | null): string {
  if (!fromIso) return '—';
  const ms = (toIso ? new Date(toIso).getTime() : Date.now()) - new Date(fromIso).getTime();
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

export function ShortId(props: { id: string | null | undefined }) {
  if (!props.id) return <span class="muted">—</span>;
  return (
    <code class="id" title={props.id}>
      {props.id.slice(0, 8)}
    </code>
  );
}

export function Section(props: { title: string; actions?: ComponentChildren; children: ComponentChildren; id?: string }) {
  return (
    <section class="card" id={props.id}>
      <header class="card-head">
        <h2>{props.title}</h2>
        {props.actions && <div class="card-actions">{props.actions}</div>}
      </header>
      <div class="card-body">{props.children}</div>
    </section>
  );
}

/** How a failed load shows: a 404 is "not available" (a feature this gateway lacks), muted, never a crash. */
export function LoadError(props: { error: ApiError; what: string }) {
  if (props.error.notFound) return <p class="muted note">{props.what} is not available on this gateway.</p>;
  if (props.error.status === 403) return <p class="muted note">{props.what} needs the admin role.</p>;
  return (
    <p class="error note">
      {props.what} could not be loaded: {props.error.message} <span class="muted">({props.error.code})</span>
    </p>
  );
}

export function Loading() {
  return <p class="muted note">Loading…</p>;
}

/** What a page for the admin role shows to everyone else. */
export function AdminOnly(props: { title: string; note: string }) {
  return (
    <div class="page">
      <h1>{props.title}</h1>
      <p class="muted note">{props.note}</p>
    </div>
  );
}

export function Flash(props: { message: { kind: 'ok' | 'error'; text: string } | null }) {
  if (!props.message) return null;
  return (
    <p class={`flash flash-${props.message.kind}`} role={props.message.kind === 'error' ? 'alert' : 'status'}>
      {props.message.text}
    </p>
  );
}

export function Button(props: ButtonHTMLAttributes<HTMLButtonElement> & { variant?: 'primary' | 'danger' | 'plain' }) {
  const { variant, class: cls, ...rest } = props;
  return <button type="button" class={`btn btn-${variant ?? 'plain'} ${cls ?? ''}`} {...rest} />;
}

/** A cell for a value of unknown shape (endpoints that answer more than the console knows of). */
export function Value(props: { value: unknown }) {
  const v = props.value;
  if (v === null || v === undefined) return <span class="muted">—</span>;
  if (typeof v === 'number') return <span class="num">{v.toLocaleString()}</span>;
  if (typeof v === 'boolean') return <span>{v ? 'yes' : 'no'}</span>;
  if (typeof v === 'string') {
    if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(v)) return <Time at={v} />;
    return <span>{v}</span>;
  }
  return <code class="json-inline">{JSON.stringify(v)}</code>;
}

/**
 * A table of objects whose fields are not all known here: the named columns first, then any others
 * the rows carry (so a field added to the API shows up without a console change).
 */
export function ObjectTable(props: { rows: Array<Record<string, unknown>>; columns?: string[]; hide?: string[]; labels?: Record<string, string>; empty?: string }) {
  const { rows } = props;
  if (rows.length === 0) return <p class="muted note">{props.empty ?? 'Nothing here.'}</p>;
  const columns = [...(props.columns ?? [])];
  for (const row of rows) for (const key of Object.keys(row)) if (!columns.includes(key) && !props.hide?.includes(key)) columns.push(key);
  // Named columns no row has are left out (an answer that names them differently still shows its own),
  // and a column no row has a value for is noise (an `error` column of nothing but dashes).
  const shown = columns.filter((c) => rows.some((row) => row[c] !== undefined && row[c] !== null));
  const label = (c: string) => props.labels?.[c] ?? c.replace(/([a-z])([A-Z])/g, '$1 $2').replace(/_/g, ' ').toLowerCase();
  return (
    <div class="table-scroll">
      <table>
        <thead>
          <tr>
            {shown.map((c) => (
              <th key={c}>{label(c)}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((row, i) => (
            <tr key={i}>
              {shown.map((c) => (
                <td key={c}>{c === 'status' && typeof row[c] === 'string' ? <Badge status={row[c] as string} /> : <Value value={row[c]} />}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

