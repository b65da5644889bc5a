/** Text output of the CLI: aligned tables (like kubectl), short times and sizes, a progress bar. */

/** An aligned table with a header row; cells are strings (null/undefined print as `-`). */
export function table(headers: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number | null | undefined>>): string {
  const all = [headers.map(String), ...rows.map((r) => r.map((c) => (c === null || c === undefined || c === '' ? '-' : String(c))))];
  const widths = headers.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all.map((r) => r.map((cell, i) => (cell ?? '').padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

/** `key  value` lines, keys aligned. */
export function fields(entries: ReadonlyArray<readonly [string, string | number | null | undefined]>): string {
  const width = Math.max(...entries.map(([k]) => k.length));
  return entries.map(([k, v]) => `${`${k}:`.padEnd(width + 2)}${v === null || v === undefined || v === '' ? '-' : v}`).join('\n');
}

/** 850 ms, 12.3 s, 4m05s, 2h10m. */
export function duration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '-';
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** How long ago an ISO time was: `3 s ago`; `-` for none. */
export function ago(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '-';
  const t = Date.parse(iso);
  return Number.isFinite(t) ? `${duration(Math.max(0, now - t))} ago` : '-';
}

/** 512 B, 1.5 KiB, 3.2 MiB. */
export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** `[#########-----------]  12/36  33%` for a progress of done (+failed) out of total. */
export function progressBar(done: number, failed: number, total: number, width = 30): string {
  const finished = Math.min(total, done + failed);
  const ratio = total > 0 ? finished / total : 0;
  const filled = Math.round(ratio * width);
  const failedText = failed > 0 ? `, ${failed} failed` : '';
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${finished}/${total} ${String(Math.floor(ratio * 100)).padStart(3)}%${failedText}`;
}

/** A time of day, local: 14:03:07. */
export function clock(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toTimeString().slice(0, 8);
}
