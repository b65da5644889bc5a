// Checks the servers the platform needs (NATS with JetStream, PostgreSQL) and starts local ones that
// are installed but not running. Zero dependencies, Node 20 compatible: it runs before `npm install`.
import { connect } from 'node:net';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';

/** Resolves true when a TCP connection to host:port opens within the timeout. */
export function isListening(host, port, timeoutMs = 1000) {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (up) => {
      socket.destroy();
      resolve(up);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

async function waitFor(host, port, seconds) {
  for (let i = 0; i < seconds * 4; i++) {
    if (await isListening(host, port, 500)) return true;
    await new Promise((r) => setTimeout(r, 250));
  }
  return false;
}

const LOCAL = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

function run(command, args) {
  const result = spawnSync(command, args, { stdio: 'inherit' });
  return result.status === 0;
}

/**
 * The servers, where they are, and how to start a local one. NATS_URL may list several servers (a
 * JetStream cluster, `nats://127.0.0.1:4222,nats://127.0.0.1:4223,...`): `cluster` then holds them
 * all, the platform needs one to answer (the client finds the others), and no local server is
 * started for it (a cluster is run on its own; a standalone server on one of its ports would be wrong).
 */
export function infraTargets(env = process.env) {
  const urls = (env.NATS_URL || 'nats://127.0.0.1:4222')
    .split(',')
    .map((u) => u.trim())
    .filter((u) => u !== '')
    .map((u) => new URL(u));
  const nats = urls[0];
  const pg = new URL(env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/roadmap');
  return [
    {
      name: urls.length > 1 ? `NATS (JetStream, ${urls.length} servers)` : 'NATS (JetStream)',
      host: nats.hostname,
      port: Number(nats.port || 4222),
      cluster: urls.length > 1 ? urls.map((u) => ({ host: u.hostname, port: Number(u.port || 4222) })) : undefined,
      binary: '/usr/sbin/nats-server',
      install: 'apt-get install -y nats-server',
      start: () =>
        run('start-stop-daemon', [
          '--start', '--oknodo', '--background', '--exec', '/usr/sbin/nats-server', '--',
          '-a', '127.0.0.1', '-p', String(nats.port || 4222), '-js', '-sd', '/var/lib/nats-server', '-l', '/var/log/nats-server.log',
        ]),
    },
    {
      name: 'PostgreSQL',
      host: pg.hostname,
      port: Number(pg.port || 5432),
      binary: existsSync('/etc/postgresql') ? '/usr/bin/pg_ctlcluster' : '/nonexistent',
      install: 'apt-get install -y postgresql',
      start: () => {
        const versions = existsSync('/etc/postgresql') ? readdirSync('/etc/postgresql') : [];
        return versions.length > 0 && run('pg_ctlcluster', ['--skip-systemctl-redirect', versions[0], 'main', 'start']);
      },
    },
  ];
}

/**
 * Makes sure every server answers. A local one that is down is started when its binary is
 * installed; otherwise the message says exactly what to install or where to point the URL.
 */
export async function ensureInfra(log = console.log, env = process.env) {
  const problems = [];
  for (const target of infraTargets(env)) {
    if (target.cluster) {
      const up = [];
      for (const server of target.cluster) if (await isListening(server.host, server.port)) up.push(`${server.host}:${server.port}`);
      if (up.length > 0) log(`${target.name}: ${up.length} of ${target.cluster.length} answer (${up.join(', ')})`);
      else problems.push(`${target.name}: none of ${target.cluster.map((c) => `${c.host}:${c.port}`).join(', ')} answers (a cluster is not started here)`);
      continue;
    }
    if (await isListening(target.host, target.port)) {
      log(`${target.name} is up at ${target.host}:${target.port}`);
      continue;
    }
    if (!LOCAL.has(target.host)) {
      problems.push(`${target.name} does not answer at ${target.host}:${target.port} (not local, so not started here)`);
      continue;
    }
    if (!existsSync(target.binary)) {
      problems.push(`${target.name} is not installed: run \`apt-get update && ${target.install}\`, or point the URL at a running server`);
      continue;
    }
    log(`${target.name} is down at ${target.host}:${target.port}: starting it`);
    target.start();
    if (await waitFor(target.host, target.port, 30)) log(`${target.name} started`);
    else problems.push(`${target.name} did not start at ${target.host}:${target.port}; see its log`);
  }
  if (problems.length) throw new Error(problems.join('\n'));
}
