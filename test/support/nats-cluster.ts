import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { listening } from './nats.js';
import { eventually, freePort } from './platform.js';

/** One server of a test's own JetStream cluster: a client port, a route port and a store of its own. */
export interface ClusterNode {
  readonly name: string;
  readonly port: number;
  readonly clusterPort: number;
  readonly storeDir: string;
  child?: ChildProcess;
}

/**
 * A JetStream cluster of nats-servers on loopback (`--cluster_name`, `--routes`, a store each), for a
 * test that kills and restarts servers; the shared server on 4222 is never touched. A node restarted
 * on its own ports and store rejoins with its streams.
 */
export class NatsCluster {
  private readonly dir = mkdtempSync(join(tmpdir(), 'nats-cluster-'));
  readonly nodes: ClusterNode[] = [];

  private constructor(private readonly clusterName: string) {
    process.once('exit', () => {
      for (const node of this.nodes) node.child?.kill('SIGKILL');
    });
  }

  static async start(size = 3): Promise<NatsCluster> {
    const cluster = new NatsCluster(`roadmap${Date.now().toString(36)}`);
    for (let i = 1; i <= size; i++) {
      const storeDir = join(cluster.dir, `n${i}`);
      mkdirSync(storeDir);
      cluster.nodes.push({ name: `n${i}`, port: await freePort(), clusterPort: await freePort(), storeDir });
    }
    await Promise.all(cluster.nodes.map((node) => cluster.launch(node)));
    await cluster.waitForJetStream();
    return cluster;
  }

  /** NATS_URL listing every server. */
  get url(): string {
    return this.nodes.map((n) => `nats://127.0.0.1:${n.port}`).join(',');
  }

  node(name: string): ClusterNode {
    const node = this.nodes.find((n) => n.name === name);
    if (!node) throw new Error(`no cluster node ${name}`);
    return node;
  }

  private async launch(node: ClusterNode): Promise<void> {
    const routes = this.nodes.map((n) => `nats://127.0.0.1:${n.clusterPort}`).join(',');
    node.child = spawn(
      '/usr/sbin/nats-server',
      [
        '-a', '127.0.0.1', '-p', String(node.port), '-n', node.name, '-js', '-sd', node.storeDir,
        '--cluster_name', this.clusterName, '--cluster', `nats://127.0.0.1:${node.clusterPort}`, '--routes', routes,
      ],
      { stdio: 'ignore' },
    );
    await eventually(() => listening(node.port), 15_000, `nats-server ${node.name} to listen`);
  }

  /** SIGKILLs a node (no goodbye to its peers) and waits for it to exit. */
  async kill(name: string): Promise<void> {
    const child = this.node(name).child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  /** Starts a killed node again on its own ports and store. */
  async restart(name: string): Promise<void> {
    await this.launch(this.node(name));
  }

  /** Until the JetStream meta group has a leader and answers account requests. */
  async waitForJetStream(timeoutMs = 30_000): Promise<void> {
    const nc = await connect({ servers: this.nodes.map((n) => `127.0.0.1:${n.port}`), maxReconnectAttempts: -1 });
    try {
      // No API check when the manager is made: that first request is what may time out while the
      // meta group elects its leader (seen on a loaded machine); the loop below asks until it answers.
      const jsm = await jetstreamManager(nc, { checkAPI: false });
      await eventually(() => jsm.getAccountInfo().then(() => true, () => false), timeoutMs, 'a JetStream meta leader');
    } finally {
      await nc.close();
    }
  }

  /** The name of the server leading a stream's replica group, and the names of its current followers. */
  async streamPeers(stream: string): Promise<{ leader: string; current: string[] }> {
    const nc = await connect({ servers: this.nodes.map((n) => `127.0.0.1:${n.port}`), maxReconnectAttempts: -1 });
    try {
      const jsm = await jetstreamManager(nc);
      const info = await jsm.streams.info(stream);
      return {
        leader: info.cluster?.leader ?? '',
        current: (info.cluster?.replicas ?? []).filter((r) => r.current && !r.offline).map((r) => r.name),
      };
    } finally {
      await nc.close();
    }
  }

  async stop(): Promise<void> {
    for (const node of this.nodes) await this.kill(node.name);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
