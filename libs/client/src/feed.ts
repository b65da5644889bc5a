import { createParser } from 'eventsource-parser';
import type { FeedEvent, RoadmapClient, paths } from './client.js';
import { FollowError } from './follow.js';

export type FeedQuery = NonNullable<paths['/api/v1/admin/events']['get']['parameters']['query']>;

export interface FeedOptions {
  /** Each event of the feed, with its id (what Last-Event-ID names). */
  onEvent: (event: FeedEvent, id: string | undefined) => void;
  /** Where the feed stands: connecting, live, retrying (after a drop), ended (refused, or stopped). */
  onState?: (state: 'connecting' | 'live' | 'retrying' | 'ended', status?: number) => void;
  signal: AbortSignal;
  /** Pause between reconnects (ms, default 2000). */
  intervalMs?: number;
}

/**
 * Reads the admin live feed, GET /api/v1/admin/events (Server-Sent Events of every task), until
 * `signal` aborts: after a drop it reconnects with Last-Event-ID, so no event is lost or repeated.
 * A 4xx (no admin role, a bad filter) ends it with a FollowError.
 */
export async function followAdminEvents(client: RoadmapClient, query: FeedQuery, options: FeedOptions): Promise<void> {
  let lastEventId: string | undefined;
  while (!options.signal.aborted) {
    options.onState?.('connecting');
    try {
      const { response } = await client.GET('/api/v1/admin/events', {
        params: { query, header: lastEventId ? { 'Last-Event-ID': lastEventId } : {} },
        parseAs: 'stream',
        signal: options.signal,
      });
      if (response.status >= 400 && response.status < 500) {
        options.onState?.('ended', response.status);
        throw new FollowError(response.status, `GET admin events: ${response.status}`);
      }
      if (!response.ok || !response.body) throw new Error(`GET admin events: ${response.status}`);
      options.onState?.('live');
      const parser = createParser({
        onEvent: (message) => {
          if (message.id) lastEventId = message.id;
          try {
            options.onEvent(JSON.parse(message.data) as FeedEvent, message.id);
          } catch {
            // not JSON: not an event of ours, skipped (its id is still remembered)
          }
        },
      });
      const decoder = new TextDecoder();
      const reader = response.body.getReader();
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          parser.feed(decoder.decode(value, { stream: true }));
        }
      } finally {
        await reader.cancel().catch(() => undefined);
      }
    } catch (error) {
      if (error instanceof FollowError) throw error;
      if (options.signal.aborted) break;
      // A dropped connection or a gateway restart: reconnect below, after what was seen last.
    }
    options.onState?.('retrying');
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 2_000));
  }
  options.onState?.('ended');
}
