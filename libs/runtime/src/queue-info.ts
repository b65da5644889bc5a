import { CONSUMERS, STREAMS, type ConsumerDeclaration, type StreamDeclaration } from '@roadmap/contracts';
import type { Messaging } from '@roadmap/messaging';

type ConsumerInfo = Awaited<ReturnType<Messaging['jsm']['consumers']['info']>>;
type StreamInfo = Awaited<ReturnType<Messaging['jsm']['streams']['info']>>;

/** A declared consumer and what JetStream says of it (or why it could not say). */
export type ConsumerState = { readonly decl: ConsumerDeclaration } & ({ readonly info: ConsumerInfo } | { readonly error: unknown });
/** A declared stream and what JetStream says of it (or why it could not say). */
export type StreamState = { readonly decl: StreamDeclaration } & ({ readonly info: StreamInfo } | { readonly error: unknown });

/**
 * Reads the info of every declared consumer and stream of this platform's namespace, all at once.
 * One failed request does not fail the others: its entry carries the error. Used by the cluster
 * metrics (queue gauges) and the gateway's GET /api/v1/admin/queues.
 */
export async function readQueues(messaging: Messaging): Promise<{ consumers: ConsumerState[]; streams: StreamState[] }> {
  const jsm = messaging.jsm;
  const [consumers, streams] = await Promise.all([
    Promise.all(
      (Object.values(CONSUMERS) as ConsumerDeclaration[]).map(async (decl): Promise<ConsumerState> => {
        try {
          return { decl, info: await jsm.consumers.info(messaging.streamName(decl.stream), decl.durable) };
        } catch (error) {
          return { decl, error };
        }
      }),
    ),
    Promise.all(
      (Object.values(STREAMS) as StreamDeclaration[]).map(async (decl): Promise<StreamState> => {
        try {
          return { decl, info: await jsm.streams.info(messaging.streamName(decl.name)) };
        } catch (error) {
          return { decl, error };
        }
      }),
    ),
  ]);
  return { consumers, streams };
}
