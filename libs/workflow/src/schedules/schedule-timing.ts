import { ValidationError, type Priority, type ReviewMode } from '@roadmap/contracts';
import { Cron } from 'croner';

/** skip: not while the previous run's task is unfinished; queue: at most one waits for it; allow: always start. */
export const OVERLAP_POLICIES = ['skip', 'queue', 'allow'] as const;
export type OverlapPolicy = (typeof OVERLAP_POLICIES)[number];

/** none: an occurrence missed (downtime) is dropped; latest: the latest one missed runs once. */
export const CATCHUP_POLICIES = ['none', 'latest'] as const;
export type CatchupPolicy = (typeof CATCHUP_POLICIES)[number];

/**
 * A `schedules` row as both its readers see it: the gateway (which writes the table) and the
 * workflow worker's runner (which fires it). Each extends it with the columns it reads besides.
 */
export interface ScheduleDefinitionRow {
  id: string;
  cron: string;
  timezone: string;
  task_type: string;
  input: unknown;
  owner: string;
  priority: Priority;
  review_mode: ReviewMode;
  overlap: OverlapPolicy;
  catchup: CatchupPolicy;
}

/** What became of one occurrence of a schedule (a `schedule_runs` row). */
export const SCHEDULE_RUN_OUTCOMES = ['started', 'skipped', 'queued', 'failed'] as const;
export type ScheduleRunOutcome = (typeof SCHEDULE_RUN_OUTCOMES)[number];

/** An IANA time zone name this runtime knows (`Europe/Berlin`, `UTC`); 400 INVALID_TIMEZONE otherwise. */
export function assertTimezone(timezone: string, field = 'timezone'): void {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
  } catch {
    throw new ValidationError(`"${timezone}" is not an IANA time zone (e.g. Europe/Berlin, America/New_York, UTC)`, [{ field, message: 'unknown time zone' }], 'INVALID_TIMEZONE');
  }
}

/**
 * A cron expression read in `timezone`: five fields (minute precision) or six (a leading seconds
 * field), as croner reads them (day-of-month and day-of-week OR-ed, as Vixie cron; names and
 * nicknames like `@hourly` accepted). 400 INVALID_CRON (field `cron`) or INVALID_TIMEZONE otherwise.
 */
export function parseCron(cron: string, timezone: string): Cron {
  assertTimezone(timezone);
  try {
    const parsed = new Cron(cron, { timezone, mode: '5-or-6-parts' });
    // Parsing alone accepts a pattern no date satisfies (31 February): it must occur.
    if (!parsed.nextRun(new Date())) throw new Error('it never occurs');
    return parsed;
  } catch (error) {
    const reason = (error as Error).message.replace(/^CronPattern: /, '');
    throw new ValidationError(`"${cron}" is not a cron expression of 5 or 6 fields: ${reason}`, [{ field: 'cron', message: reason }], 'INVALID_CRON');
  }
}

/** The next `n` occurrences strictly after `after`, computed in the schedule's time zone (DST included). */
export function nextOccurrences(cron: Cron, n: number, after: Date): Date[] {
  return cron.nextRuns(n, after);
}

export interface DueQuery {
  readonly cron: Cron;
  /** Occurrences at or before this instant were dealt with (the last one recorded, or the schedule's anchor). */
  readonly after: Date;
  readonly now: Date;
  readonly catchup: CatchupPolicy;
  /** How late an occurrence may still start under `catchup: none` (a slow poll is not downtime). */
  readonly graceMs: number;
}

/**
 * The occurrence to fire now, if any: the latest one in (after, now]. Older ones in that range were
 * missed and are never fired (not even with `latest`: one run catches up). Under `none` the latest is
 * fired only while it is at most `graceMs` old, otherwise it is `missed` too.
 */
export function dueOccurrence(query: DueQuery): { fire: Date } | { missed: Date } | null {
  const [latest] = query.cron.previousRuns(1, query.now);
  if (!latest || latest.getTime() <= query.after.getTime()) return null;
  if (query.catchup === 'none' && query.now.getTime() - latest.getTime() > query.graceMs) return { missed: latest };
  return { fire: latest };
}

/** What the overlap policy makes of an occurrence, given the previous run's task and a waiting occurrence. */
export function overlapDecision(overlap: OverlapPolicy, previousActive: boolean, queued: boolean): 'start' | 'skip' | 'queue' {
  if (overlap === 'allow' || !previousActive) return 'start';
  return overlap === 'queue' && !queued ? 'queue' : 'skip';
}
