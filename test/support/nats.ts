import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually, freePort, Platform } from './platform.js';

/** Resolves whether something listens on 127.0.0.1:port. */
export function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

/**
 * A NATS server (JetStream, file storage in `storeDir`) of a test's own, so stopping or restarting it
 * disturbs no other test. The same port and folder bring it back with its streams.
 */
export async function startPrivateNats(port: number, storeDir: string): Promise<ChildProcess> {
  const child = spawn('/usr/sbin/nats-server', ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', storeDir], { stdio: 'ignore' });
  await eventually(() => listening(port), 15_000, 'nats-server to listen');
  return child;
}

/**
 * A test's own nats-server on a free port, its store in a temporary folder: killed (SIGKILL, as a
 * crash) and started again with its streams by the tests of a NATS restart, removed at the end.
 */
export class PrivateNats {
  private constructor(
    readonly port: number,
    private readonly storeDir: string,
    private child: ChildProcess,
  ) {}

  static async start(name: string): Promise<PrivateNats> {
    const port = await freePort();
    const storeDir = mkdtempSync(join(tmpdir(), `${name}-`));
    return new PrivateNats(port, storeDir, await startPrivateNats(port, storeDir));
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  /** Kills the server as a crash would and waits until it is gone. */
  async kill(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGKILL');
    await exited;
  }

  /** Starts it again on the same port and store: its streams come back. */
  async restart(): Promise<void> {
    this.child = await startPrivateNats(this.port, this.storeDir);
  }

  async remove(): Promise<void> {
    await this.kill();
    rmSync(this.storeDir, { recursive: true, force: true });
  }
}

/**
 * A platform on a nats-server of its own, for the tests that kill and restart it: 150 ms LLM calls,
 * 4 content slots, a 5 s ack wait (redeliveries within the test). `stop` leaves the streams to the
 * server's removal.
 */
export async function platformOnPrivateNats(name: string): Promise<{ nats: PrivateNats; platform: Platform; stop(): Promise<void> }> {
  const nats = await PrivateNats.start(name);
  const platform = await Platform.start({
    natsUrl: nats.url,
    env: { OFFLINE_LLM_LATENCY_MS: '150' },
    serviceEnv: { 'content-worker': { WORKER_CONCURRENCY: '4' } },
    ackWaitMs: 5_000,
  });
  return {
    nats,
    platform,
    async stop() {
      await platform.stop({ skipStreams: true });
      await nats.remove();
    },
  };
}
