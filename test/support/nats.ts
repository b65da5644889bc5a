import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { eventually } from './platform.js';

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
