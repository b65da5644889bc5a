#!/usr/bin/env node
// `npm start`: installs what is missing, builds, checks NATS and PostgreSQL (starting local ones),
// migrates, provisions streams, then runs the four services as separate processes, with prefixed
// logs, a replica count per service, restarts of a process that dies, and a graceful Ctrl-C.
// Zero dependencies and Node 20 compatible: it runs before `npm install`.
import { spawn, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureInfra } from './lib/infra.mjs';
import { ensureInstalled, runNode } from './lib/install.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// On one machine, webhooks to local receivers (127.0.0.1, the LAN) are what a developer wants to try.
const env = { WEBHOOKS_ALLOW_PRIVATE: 'true', ...process.env };
const say = (message) => console.log(`[start] ${message}`);

/** Each service, its base port and the per-service variables that map onto the shared names. */
const SERVICES = [
  { name: 'gateway', port: Number(env.PORT || 3000), replicas: 'GATEWAY_REPLICAS', fallbackReplicas: 1 },
  { name: 'workflow-worker', port: 3100, replicas: 'WORKFLOW_WORKER_REPLICAS', fallbackReplicas: 1, concurrency: 'WORKFLOW_WORKER_CONCURRENCY' },
  { name: 'content-worker', port: 3200, replicas: 'CONTENT_WORKER_REPLICAS', fallbackReplicas: 2, concurrency: 'CONTENT_WORKER_CONCURRENCY' },
  { name: 'log-sink', port: 3300, replicas: 'LOG_SINK_REPLICAS', fallbackReplicas: 1, concurrency: 'LOG_SINK_CONCURRENCY' },
  { name: 'webhook-worker', port: 3400, replicas: 'WEBHOOK_WORKER_REPLICAS', fallbackReplicas: 1, concurrency: 'WEBHOOK_WORKER_CONCURRENCY' },
];

const children = new Set();
let stopping = false;

function prefixLines(stream, prefix, out) {
  let buffered = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk) => {
    buffered += chunk;
    const lines = buffered.split('\n');
    buffered = lines.pop();
    for (const line of lines) out.write(`${prefix} ${format(line)}\n`);
  });
}

/** pino JSON -> "time level message {context}" unless LOG_FORMAT=json. */
function format(line) {
  if (env.LOG_FORMAT === 'json' || !line.startsWith('{')) return line;
  try {
    const { time, level, msg, service: _s, pid: _p, hostname: _h, ...rest } = JSON.parse(line);
    const extra = Object.keys(rest).length ? ` ${JSON.stringify(rest)}` : '';
    return `${String(time ?? '').slice(11, 23)} ${String(level).padEnd(5)} ${msg ?? ''}${extra}`;
  } catch {
    return line;
  }
}

function startProcess(node, service, index) {
  const label = `${service.name}.${index}`.padEnd(17);
  const childEnv = { ...env, PORT: String(service.port + index) };
  if (service.concurrency && env[service.concurrency]) childEnv.WORKER_CONCURRENCY = env[service.concurrency];
  let restarts = 0;
  const launch = () => {
    const startedAt = Date.now();
    const child = spawn(node, ['--enable-source-maps', join(root, 'services', service.name, 'dist', 'src', 'main.js')], {
      cwd: root,
      env: childEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(child);
    prefixLines(child.stdout, `[${label}]`, process.stdout);
    prefixLines(child.stderr, `[${label}]`, process.stderr);
    child.on('exit', (code, signal) => {
      children.delete(child);
      if (stopping) return;
      // Like Kubernetes: restart with a growing delay, reset once the process has run a while.
      restarts = Date.now() - startedAt > 60_000 ? 0 : restarts + 1;
      const delay = Math.min(30_000, 1000 * 2 ** Math.min(restarts, 5));
      say(`${service.name}.${index} exited (${signal ?? `code ${code}`}); restarting in ${delay / 1000}s`);
      setTimeout(() => !stopping && launch(), delay);
    });
  };
  launch();
}

async function waitReady(url, seconds) {
  for (let i = 0; i < seconds * 4; i++) {
    try {
      const res = await fetch(url);
      if (res.ok) return true;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return false;
}

function stopAll(signal) {
  if (stopping) return;
  stopping = true;
  const graceMs = Number(env.SHUTDOWN_GRACE_MS || 20_000) + 5_000;
  say(`${signal}: stopping ${children.size} process(es) gracefully (up to ${graceMs / 1000}s)`);
  for (const child of children) child.kill('SIGTERM');
  const timer = setTimeout(() => {
    for (const child of children) child.kill('SIGKILL');
  }, graceMs);
  const check = setInterval(() => {
    if (children.size === 0) {
      clearInterval(check);
      clearTimeout(timer);
      say('stopped');
      process.exit(0);
    }
  }, 100);
}

/**
 * `npm start` never runs an open API: without AUTH_JWT_SECRET / AUTH_JWKS_URL and without any active
 * API key, it creates a development key (admin role) with the CLI and returns it, to be printed once.
 */
function ensureDevApiKey(node) {
  if (env.AUTH_JWT_SECRET || env.AUTH_JWKS_URL) return { configured: 'JWT' };
  const cli = (args) => {
    const result = spawnSync(node, ['services/gateway/dist/src/cli/main.js', 'apikey', ...args], { cwd: root, env, encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`apikey ${args[0]} failed (exit ${result.status ?? result.signal}): ${result.stderr}`);
    return result.stdout;
  };
  if (JSON.parse(cli(['ls', '--json'])).length > 0) return { configured: 'existing API keys' };
  const lines = cli(['create', '--owner', 'developer', '--role', 'admin', '--label', 'npm start development key']).trim().split('\n');
  return { key: lines[lines.length - 1].trim() };
}

async function main() {
  const node = ensureInstalled(root, say);
  say('building...');
  runNode(root, node, ['scripts/build.mjs']);
  await ensureInfra(say, env);
  // Several servers in NATS_URL: a JetStream cluster, whose streams and KV buckets should live on
  // three of them unless NATS_STREAM_REPLICAS says otherwise (provisioning raises R1 ones in place).
  const natsServers = (env.NATS_URL || '').split(',').filter((u) => u.trim() !== '').length;
  if (natsServers >= 3 && !env.NATS_STREAM_REPLICAS) {
    env.NATS_STREAM_REPLICAS = '3';
    say(`NATS_URL lists ${natsServers} servers: streams and KV buckets get 3 replicas (NATS_STREAM_REPLICAS=3)`);
  }
  say('migrating the database...');
  runNode(root, node, ['libs/persistence/dist/src/cli/migrate.js'], env);
  say('provisioning JetStream streams, consumers and KV buckets...');
  runNode(root, node, ['libs/messaging/dist/src/cli/provision.js'], env);
  const auth = ensureDevApiKey(node);

  process.on('SIGINT', () => stopAll('SIGINT'));
  process.on('SIGTERM', () => stopAll('SIGTERM'));
  for (const service of SERVICES) {
    const replicas = Number(env[service.replicas] ?? service.fallbackReplicas);
    if (!Number.isInteger(replicas) || replicas < 0) throw new Error(`${service.replicas} must be a whole number, got "${env[service.replicas]}"`);
    for (let i = 0; i < replicas; i++) startProcess(node, service, i);
  }
  const base = `http://127.0.0.1:${SERVICES[0].port}`;
  if (await waitReady(`${base}/readyz`, 60)) {
    say('the platform is up:');
    const credential = auth.key ?? '<your API key>';
    say(`  API       ${base}/api/v1  (try: curl -s -XPOST ${base}/api/v1/roadmaps -H "Authorization: Bearer ${credential}" -H 'content-type: application/json' -d '{"goal":"Become a backend engineer"}')`);
    if (auth.key) {
      say(`  API key   ${auth.key}  (development key, owner "developer", role admin: shown only now; npm run cli -- apikey ls / revoke / create)`);
    } else {
      say(`  auth      ${auth.configured} configured (npm run cli -- apikey create --owner <owner> makes an API key)`);
    }
    say(`  API docs  ${base}/docs`);
    say(`  console   ${base}/console  (sign in with the API key)`);
    say(`  health    ${base}/healthz  ${base}/readyz   metrics ${base}/metrics`);
    say('Ctrl-C stops everything.');
  } else {
    say(`the gateway did not become ready at ${base}/readyz within 60s; see the logs above`);
  }
}

main().catch((error) => {
  console.error(`[start] ${error.message}`);
  if (children.size === 0) process.exit(1);
  stopAll('error');
});
