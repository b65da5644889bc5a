import { readFileSync } from 'node:fs';
import { credsAuthenticator, nkeyAuthenticator } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { UnavailableError } from '@roadmap/contracts';
import type { Logger } from '@roadmap/observability';
import { Namespace } from './namespace.js';

/** Options of {@link Messaging.connect}. */
export interface MessagingOptions {
  /** NATS URLs, comma-separated (`nats://a:4222,nats://b:4222`). */
  readonly servers: string;
  /** NATS_NAMESPACE: prefixes every stream name and subject; empty for none. */
  readonly namespace: string;
  /** Connection name shown by the server (`nats server report connections`), usually the service name. */
  readonly name: string;
  readonly logger?: Logger;
  /** Credentials and TLS; none for a server without auth. */
  readonly auth?: NatsAuthOptions;
}

/** How a process proves itself to NATS (NATS_USER/NATS_PASSWORD, NATS_TOKEN, NATS_CREDS_FILE, NATS_NKEY_SEED_FILE) and TLS. */
export interface NatsAuthOptions {
  readonly user?: string;
  readonly password?: string;
  readonly token?: string;
  /** A decentralised-auth `.creds` file (JWT + NKey seed). */
  readonly credsFile?: string;
  /** A file holding an NKey seed (`SU…`). */
  readonly nkeySeedFile?: string;
  readonly tls?: { readonly caFile?: string; readonly certFile?: string; readonly keyFile?: string };
}

/** Connect options for the configured credentials; secrets are read from files only here. */
function authOptions(auth: NatsAuthOptions | undefined): Record<string, unknown> {
  if (!auth) return {};
  const options: Record<string, unknown> = {};
  if (auth.credsFile) options.authenticator = credsAuthenticator(new Uint8Array(readFileSync(auth.credsFile)));
  else if (auth.nkeySeedFile) options.authenticator = nkeyAuthenticator(new TextEncoder().encode(readFileSync(auth.nkeySeedFile, 'utf8').trim()));
  else if (auth.token) options.token = auth.token;
  else if (auth.user) {
    options.user = auth.user;
    options.pass = auth.password ?? '';
  }
  if (auth.tls && (auth.tls.caFile || auth.tls.certFile)) options.tls = { ...auth.tls };
  return options;
}

/** Milliseconds between reconnect attempts; the client never gives up reconnecting. */
const RECONNECT_WAIT_MS = 2_000;
const PING_TIMEOUT_MS = 2_000;
const DRAIN_TIMEOUT_MS = 5_000;

/**
 * The process's one NATS connection, with its JetStream client and manager, and the namespace that
 * isolates this platform's streams and subjects. Names outside this lib are always logical
 * (`CONTENT_GENERATION`, `content.generate.normal.quiz`); only this class knows the actual ones.
 */
export class Messaging {
  private connected = true;
  private closing?: Promise<void>;

  private constructor(
    readonly nc: NatsConnection,
    readonly js: JetStreamClient,
    readonly jsm: JetStreamManager,
    private readonly ns: Namespace,
    private readonly logger?: Logger,
  ) {
    void this.watchStatus();
  }

  /** NATS_NAMESPACE this connection applies ('' for none). */
  get namespace(): string {
    return this.ns.name;
  }

  /**
   * Connects to NATS. The first connection must succeed (a service that cannot reach NATS at start-up
   * fails fast and is restarted); afterwards the client reconnects forever, every 2 s, buffering
   * publishes meanwhile.
   */
  static async connect(opts: MessagingOptions): Promise<Messaging> {
    // Validated before connecting: a bad namespace must not leave a connection open.
    const ns = new Namespace(opts.namespace);
    const servers = opts.servers
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    const nc = await connect({
      servers,
      name: opts.name,
      maxReconnectAttempts: -1,
      reconnectTimeWait: RECONNECT_WAIT_MS,
      // Async traces construct two Errors per request (every publish) to keep the caller's stack:
      // a third of the publish CPU. Our errors name the subject instead.
      noAsyncTraces: true,
      ...authOptions(opts.auth),
    });
    try {
      const jsm = await jetstreamManager(nc);
      const messaging = new Messaging(nc, jetstream(nc), jsm, ns, opts.logger);
      opts.logger?.info({ server: nc.getServer(), namespace: opts.namespace }, 'connected to NATS');
      return messaging;
    } catch (err) {
      // JetStream not enabled, or no permission: this connection is of no use.
      await nc.close();
      throw err;
    }
  }

  /** Actual stream name: `CONTENT_GENERATION` -> `T1ABC_CONTENT_GENERATION` in namespace `t1abc`. */
  streamName(logical: string): string {
    return this.ns.streamName(logical);
  }

  /** Logical stream name of an actual one (inverse of {@link streamName}). */
  logicalStream(actual: string): string {
    return this.ns.logicalStream(actual);
  }

  /** Actual subject: `content.generate.normal.quiz` -> `t1abc.content.generate.normal.quiz`. */
  subject(logical: string): string {
    return this.ns.subject(logical);
  }

  /** Logical subject of an actual one (inverse of {@link subject}). */
  logicalSubject(actual: string): string {
    return this.ns.logicalSubject(actual);
  }

  /** Whether the connection is up right now (false while reconnecting, draining or closed). */
  isConnected(): boolean {
    return this.connected && !this.nc.isClosed() && !this.nc.isDraining();
  }

  /** Round trip to the server (for /readyz); throws {@link UnavailableError} when it does not answer in time. */
  async ping(timeoutMs = PING_TIMEOUT_MS): Promise<void> {
    if (!this.isConnected()) throw new UnavailableError('NATS is not connected');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new UnavailableError(`NATS did not answer a ping within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([this.nc.flush(), timeout]);
    } catch (err) {
      throw err instanceof UnavailableError ? err : new UnavailableError('NATS ping failed', undefined, err);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Drains the connection: pending publishes (acks, naks) are flushed, then it closes. Idempotent.
   * Close the JetStream server first, so no handler is left without a connection.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.nc.isClosed()) return;
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), DRAIN_TIMEOUT_MS);
      });
      // A drain waits for the server; while NATS is unreachable it would wait forever.
      const result = await Promise.race([this.nc.drain(), timedOut]);
      clearTimeout(timer);
      if (result === 'timeout') {
        this.logger?.warn({ timeoutMs: DRAIN_TIMEOUT_MS }, 'NATS drain timed out; closing the connection');
        await this.nc.close();
        return;
      }
      this.logger?.info('NATS connection drained and closed');
    })();
    return this.closing;
  }

  /** Follows connection status for {@link isConnected} and logs disconnects/reconnects once each. */
  private async watchStatus(): Promise<void> {
    for await (const status of this.nc.status()) {
      switch (status.type) {
        case 'disconnect':
          this.connected = false;
          this.logger?.warn({ server: status.server }, 'NATS disconnected; reconnecting');
          break;
        case 'reconnect':
          this.connected = true;
          this.logger?.info({ server: status.server }, 'NATS reconnected');
          break;
        case 'close':
          this.connected = false;
          break;
        default:
          break;
      }
    }
  }
}
