import { STREAMS } from '@roadmap/contracts';
import { Command, Option } from 'commander';
import { CliContext } from '../context.js';
import { ago, bytes, fields, table } from '../format.js';
import { intOption } from '../options.js';

type StreamKey = keyof typeof STREAMS;

/** `queues`: depth per stream and consumer, and who paused it (admin); `queues pause|resume|purge` are added in control.ts. */
export function queuesCommand(): Command {
  return new Command('queues')
    .description('depth of every stream and consumer, with acks per second (admin; like `celery inspect stats`)')
    .action(async (_opts: unknown, command: Command) => {
      const ctx = CliContext.of(command);
      const queues = await ctx.api.call(ctx.api.client.GET('/api/v1/admin/queues'));
      ctx.print(queues, () => {
        const streams = table(
          ['STREAM', 'MESSAGES', 'BYTES', 'ERROR'],
          queues.streams.map((s) => [s.stream, s.messages, bytes(s.bytes), s.error]),
        );
        const consumers = table(
          ['STREAM', 'CONSUMER', 'PENDING', 'ACK PENDING', 'REDELIVERED', 'WAITING', 'ACKS/S', 'LAST ACTIVE', 'PAUSED'],
          queues.streams.flatMap((s) =>
            s.consumers.map((c) => [
              s.stream,
              c.consumer,
              c.pending,
              c.ackPending,
              c.redelivered,
              c.waiting,
              c.ackRate,
              c.error ?? ago(c.lastActive),
              c.paused ? `by ${c.pausedBy} ${ago(c.pausedAt)}` : null,
            ]),
          ),
        );
        return `${streams}\n\n${consumers}`;
      });
    });
}

/** `workers`: the worker registry (admin). */
export function workersCommand(): Command {
  return new Command('workers')
    .description('every service process: what it consumes, in flight, handled, last heartbeat (admin; like `celery inspect active`)')
    .option('--all', 'also processes that stopped answering (gone)', false)
    .action(async (opts: { all: boolean }, command: Command) => {
      const ctx = CliContext.of(command);
      const workers = await ctx.api.call(ctx.api.client.GET('/api/v1/admin/workers'));
      const shown = opts.all ? workers.items : workers.items.filter((w) => w.status === 'alive');
      ctx.print({ items: shown }, () =>
        shown.length === 0
          ? 'no workers'
          : table(
              ['SERVICE', 'HOST:PID', 'STATUS', 'CONSUMER', 'IN FLIGHT', 'ACKED', 'RETRIED', 'DEAD', 'UP SINCE', 'HEARTBEAT', 'VERSION'],
              shown.flatMap((w): Array<Array<string | number | null>> => {
                const process = [w.service, `${w.host}:${w.pid}`, w.status];
                const tail = [ago(w.startedAt), ago(w.lastHeartbeatAt), w.version];
                if (w.consumers.length === 0) return [[...process, null, null, null, null, null, ...tail]];
                return w.consumers.map((c) => [
                  ...process,
                  c.consumer,
                  `${c.inFlight}/${c.concurrency}`,
                  c.handled.acked,
                  c.handled.retried,
                  c.handled.deadLettered,
                  ...tail,
                ]);
              }),
            ),
      );
    });
}

/** `dlq ls|show|replay|discard` (admin). */
export function dlqCommand(): Command {
  const dlq = new Command('dlq').description('dead letters: list, inspect, replay, discard (admin)');

  dlq
    .command('ls')
    .description('dead letters, newest first (not the discarded ones unless --state says so)')
    .addOption(new Option('--stream <stream>', 'only those of this stream').choices(Object.keys(STREAMS)))
    .addOption(new Option('--state <state>', 'open (default), discarded or all').choices(['open', 'discarded', 'all']).default('open'))
    .option('--limit <n>', 'how many (1-500)', intOption(1, 500), 50)
    .action(async (opts: { stream?: StreamKey; state: 'open' | 'discarded' | 'all'; limit: number }, command: Command) => {
      const ctx = CliContext.of(command);
      const list = await ctx.api.call(ctx.api.client.GET('/api/v1/admin/dead-letters', { params: { query: { stream: opts.stream, state: opts.state, limit: opts.limit } } }));
      ctx.print(list, () =>
        list.items.length === 0
          ? 'no dead letters'
          : table(
              ['ID', 'STREAM', 'SUBJECT', 'REASON', 'TASK', 'CREATED', 'REPLAYS', 'DISCARDED'],
              list.items.map((d) => [d.id, d.stream, d.subject, truncate(d.reason, 60), d.taskId, d.createdAt, d.replayCount, d.discardedAt ? `by ${d.discardedBy}` : null]),
            ),
      );
    });

  dlq
    .command('show')
    .description('one dead letter with its headers and raw payload')
    .argument('<id>', 'dead letter id')
    .action(async (id: string, _opts: unknown, command: Command) => {
      const ctx = CliContext.of(command);
      const d = await ctx.api.call(ctx.api.client.GET('/api/v1/admin/dead-letters/{id}', { params: { path: { id } } }));
      ctx.print(d, () =>
        [
          fields([
            ['id', d.id],
            ['stream', d.stream],
            ['subject', d.subject],
            ['sequence', d.streamSequence],
            ['deliveries', d.deliveries],
            ['reason', d.reason],
            ['task', d.taskId],
            ['created', d.createdAt],
            ['replays', d.replayCount],
            ['discarded', d.discardedAt ? `${d.discardedAt} by ${d.discardedBy}` : null],
          ]),
          '',
          'headers:',
          ...Object.entries(d.headers).map(([k, v]) => `  ${k}: ${v}`),
          '',
          'payload:',
          d.payload,
        ].join('\n'),
      );
    });

  dlq
    .command('replay')
    .description('put a dead letter back on its original subject')
    .argument('<id>', 'dead letter id')
    .action(async (id: string, _opts: unknown, command: Command) => {
      const ctx = CliContext.of(command);
      const d = await ctx.api.call(ctx.api.client.POST('/api/v1/admin/dead-letters/{id}/replay', { params: { path: { id } } }));
      ctx.print(d, () => `dead letter ${d.id} replayed to ${d.subject} (replay ${d.replayCount})`);
    });

  dlq
    .command('discard')
    .description('mark a dead letter as dealt with: kept for audit, hidden from `dlq ls`, no longer replayable')
    .argument('<id>', 'dead letter id')
    .action(async (id: string, _opts: unknown, command: Command) => {
      const ctx = CliContext.of(command);
      const d = await ctx.api.call(ctx.api.client.POST('/api/v1/admin/dead-letters/{id}/discard', { params: { path: { id } } }));
      ctx.print(d, () => `dead letter ${d.id} discarded (by ${d.discardedBy} at ${d.discardedAt})`);
    });

  return dlq;
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
