import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deprovision, Messaging, provision } from '@roadmap/messaging';
import { migrate } from '@roadmap/persistence';
import { SignJWT } from 'jose';
import pg from 'pg';
import { assertResponseConforms } from './openapi.js';

// Compiled to dist/test/support/: the repository root is three folders up.
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const TEST_NATS_URL = process.env.TEST_NATS_URL ?? 'nats://127.0.0.1:4222';

export type ServiceName = 'gateway' | 'workflow-worker' | 'content-worker' | 'log-sink' | 'webhook-worker';

/** The owner `platform.request` calls as unless told otherwise. */
export const E2E_OWNER = 'e2e-user';

export interface RequestOptions {
  /** Call as this owner (a JWT for it), or with no credential at all (null). Default: E2E_OWNER. */
  as?: string | null;
  /** Role of the JWT (default `user`). */
  role?: 'admin' | 'user';
}

export interface PlatformOptions {
  /** Processes per service (default 1 each, content-worker 2). */
  replicas?: Partial<Record<ServiceName, number>>;
  /** Extra environment for every process (e.g. OFFLINE_LLM_LATENCY_MS). */
  env?: Record<string, string>;
  /** Extra environment per service. */
  serviceEnv?: Partial<Record<ServiceName, Record<string, string>>>;
  /** Ack wait of the worker consumers, shortened so a killed worker's messages come back quickly. */
  ackWaitMs?: number;
  /** Deliveries per workflow/content message (WORKFLOW_MAX_ATTEMPTS / CONTENT_MAX_ATTEMPTS when provisioning). */
  maxAttempts?: { workflow?: number; content?: number };
  /** Another NATS server than the shared one (a test that stops it), or several (a cluster). */
  natsUrl?: string;
  /** Replicas of the streams and KV buckets (NATS_STREAM_REPLICAS when provisioning; 3 on a cluster). */
  streamReplicas?: number;
  /** The services' DATABASE_URL when it differs from the one the test reads (a proxy a test cuts). */
  databaseUrl?: string;
}

export interface ServiceProcess {
  readonly service: ServiceName;
  readonly index: number;
  readonly port: number;
  readonly child: ChildProcess;
  readonly output: string[];
}

/** The compiled entry point of a service. */
export function serviceEntry(service: ServiceName): string {
  return join(root, 'services', service, 'dist', 'src', 'main.js');
}

/** Ports this test process handed out: never the same twice (see freePort). */
const handedOut = new Set<number>();

/**
 * A port free right now, never one handed out before in this process: the OS may offer a port it
 * just gave, and two services of one platform given the same port would answer each other's
 * readiness checks (seen: the gateway lost the port to the webhook worker and POSTs got its 404).
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
    });
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
}

/**
 * The four services as real processes against the real NATS and PostgreSQL, isolated by a NATS
 * namespace and a PostgreSQL schema of their own, so test files can run side by side.
 */
export class Platform {
  readonly namespace = `e2e${randomBytes(5).toString('hex')}`;
  readonly processes: ServiceProcess[] = [];
  readonly db: pg.Pool;
  /** HS256 secret of this platform's gateway (AUTH_JWT_SECRET): tests mint their callers' JWTs with it. */
  readonly jwtSecret = randomBytes(32).toString('base64url');
  private readonly env: Record<string, string>;
  url = '';

  private constructor(private readonly options: PlatformOptions) {
    this.env = {
      PATH: process.env.PATH ?? '',
      NATS_URL: options.natsUrl ?? TEST_NATS_URL,
      NATS_NAMESPACE: this.namespace,
      DATABASE_URL: options.databaseUrl ?? TEST_DATABASE_URL,
      DATABASE_SCHEMA: this.namespace,
      DATABASE_POOL_SIZE: '5',
      LOG_LEVEL: process.env.E2E_LOG_LEVEL ?? 'info',
      SHUTDOWN_GRACE_MS: '5000',
      AUTH_JWT_SECRET: this.jwtSecret,
      // Tests create hundreds of tasks as one owner; the rate-limit test sets its own limit.
      AUTH_RATE_LIMIT_PER_MINUTE: '100000',
      ...options.env,
    };
    // A test file killed by its timeout must not leave services running behind it.
    process.once('exit', () => {
      for (const p of this.processes) p.child.kill('SIGKILL');
    });
    this.db = new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 3, options: `-c search_path=${this.namespace}` });
  }

  static async start(options: PlatformOptions = {}): Promise<Platform> {
    const platform = new Platform(options);
    try {
      await platform.prepare();
      const replicas = { gateway: 1, 'workflow-worker': 1, 'content-worker': 2, 'log-sink': 1, 'webhook-worker': 1, ...options.replicas };
      for (const service of Object.keys(replicas) as ServiceName[]) {
        for (let i = 0; i < replicas[service]; i++) await platform.spawn(service);
      }
      await Promise.all(platform.processes.map((p) => platform.waitReady(p)));
    } catch (error) {
      await platform.stop().catch(() => undefined);
      throw error;
    }
    const gateway = platform.processes.find((p) => p.service === 'gateway');
    platform.url = gateway ? `http://127.0.0.1:${gateway.port}` : '';
    return platform;
  }

  /** Migrates the schema and provisions the namespaced streams, as `npm start` does. */
  private async prepare(): Promise<void> {
    await migrate({ url: TEST_DATABASE_URL, schema: this.namespace, poolSize: 2, applicationName: 'e2e-migrate' });
    const messaging = await Messaging.connect({ servers: this.env.NATS_URL!, namespace: this.namespace, name: 'e2e-provision' });
    try {
      await provision(messaging, { ackWaitMs: this.options.ackWaitMs, maxAttempts: this.options.maxAttempts, replicas: this.options.streamReplicas });
    } finally {
      await messaging.close();
    }
  }

  /** Starts one more process of a service, with `env` over the platform's and the service's environment. */
  async spawn(service: ServiceName, env: Record<string, string> = {}): Promise<ServiceProcess> {
    const port = await freePort();
    const index = this.processes.filter((p) => p.service === service).length;
    const child = spawn(process.execPath, ['--enable-source-maps', serviceEntry(service)], {
      cwd: root,
      env: { ...this.env, ...this.options.serviceEnv?.[service], ...env, PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output: string[] = [];
    const keep = (chunk: Buffer) => {
      output.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      if (output.length > 2000) output.splice(0, output.length - 2000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const proc = { service, index, port, child, output };
    this.processes.push(proc);
    return proc;
  }

  async waitReady(proc: ServiceProcess, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (proc.child.exitCode !== null) throw new Error(`${proc.service}.${proc.index} exited:\n${proc.output.slice(-30).join('\n')}`);
      try {
        const res = await fetch(`http://127.0.0.1:${proc.port}/readyz`);
        if (res.ok) return;
      } catch {
        // not listening yet
      }
      await sleep(100);
    }
    throw new Error(`${proc.service}.${proc.index} not ready after ${timeoutMs} ms:\n${proc.output.slice(-30).join('\n')}`);
  }

  /** Sends a signal to a process and waits for it to exit. */
  async kill(proc: ServiceProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (proc.child.exitCode !== null || proc.child.signalCode !== null) return;
    const exited = new Promise((resolve) => proc.child.once('exit', resolve));
    proc.child.kill(signal);
    await exited;
  }

  /** A JWT for `owner` signed with this platform's secret (valid for an hour unless `expiresIn` says otherwise). */
  async token(owner = E2E_OWNER, role: 'admin' | 'user' = 'user', options: { expiresIn?: string | number; secret?: string } = {}): Promise<string> {
    return new SignJWT({ role })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(owner)
      .setIssuedAt()
      .setExpirationTime(options.expiresIn ?? '1h')
      .sign(new TextEncoder().encode(options.secret ?? this.jwtSecret));
  }

  /** `{ authorization: 'Bearer <jwt>' }` for `owner`, for clients other than `request` (fetch, EventSource). */
  async authHeaders(owner = E2E_OWNER, role: 'admin' | 'user' = 'user'): Promise<Record<string, string>> {
    return { authorization: `Bearer ${await this.token(owner, role)}` };
  }

  /** `npm run cli -- <args>` against this platform's database schema. */
  cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
    const result = spawnSync(process.execPath, [join(root, 'services', 'gateway', 'dist', 'src', 'cli', 'main.js'), ...args], {
      cwd: root,
      env: { PATH: this.env.PATH ?? '', DATABASE_URL: this.env.DATABASE_URL!, DATABASE_SCHEMA: this.env.DATABASE_SCHEMA! },
      encoding: 'utf8',
      timeout: 30_000,
    });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  }

  /**
   * Grants `owner` priority high through the admin API (the priority policy answers 403
   * PRIORITY_NOT_ALLOWED to an ungranted user asking for it).
   */
  async grantPriorityHigh(owner = E2E_OWNER): Promise<void> {
    const res = await this.request('PUT', `/api/v1/admin/owners/${encodeURIComponent(owner)}/policy`, { priorityHigh: true }, {}, { as: 'e2e-admin', role: 'admin' });
    if (res.status !== 200) throw new Error(`granting ${owner} priority high failed: ${res.status} ${res.text}`);
  }

  /** A new API key (`apikey create`, straight in this platform's database); throws if the CLI failed. */
  createApiKey(owner: string, role: 'admin' | 'user', options: { priorityHigh?: boolean } = {}): string {
    const created = this.cli(['apikey', 'create', '--owner', owner, '--role', role, ...(options.priorityHigh ? ['--priority-high'] : [])]);
    if (created.status !== 0) throw new Error(`apikey create failed (${created.status}): ${created.stderr}`);
    return created.stdout.trim().split('\n').at(-1)!;
  }

  /**
   * The CLI as a real process against this platform's API (`ROADMAP_API_URL`), with `key` as
   * ROADMAP_API_KEY (none when null). Asynchronous: a blocking spawn would stall the services' piped output.
   */
  apiCli(args: string[], key: string | null, env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [join(root, 'services', 'gateway', 'dist', 'src', 'cli', 'main.js'), ...args], {
        cwd: root,
        env: { PATH: this.env.PATH ?? '', ROADMAP_API_URL: this.url, ...(key ? { ROADMAP_API_KEY: key } : {}), ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout?.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
      child.stderr?.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
      const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
      child.once('error', reject);
      child.once('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
  }

  /**
   * Calls the gateway. Sends a bearer JWT for E2E_OWNER unless `headers` carry a credential of their
   * own (authorization, x-api-key) or `options.as` names another owner (or null: no credential).
   * Every answer is held to the OpenAPI document (./openapi.ts): one that does not conform throws.
   */
  async request(method: string, path: string, body?: unknown, headers: Record<string, string> = {}, options: RequestOptions = {}) {
    const own = Object.keys(headers).some((h) => ['authorization', 'x-api-key'].includes(h.toLowerCase()));
    const as = options.as === undefined ? E2E_OWNER : options.as;
    const auth = own || as === null ? {} : await this.authHeaders(as, options.role);
    const res = await fetch(`${this.url}${path}`, {
      method,
      headers: body === undefined ? { ...auth, ...headers } : { 'content-type': 'application/json', ...auth, ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    assertResponseConforms({ method, url: path, status: res.status, contentType: res.headers.get('content-type'), text });
    let json: any = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    return { status: res.status, headers: res.headers, body: json, text };
  }

  /** Polls a task until it reaches one of the statuses; fails with the task and recent logs on timeout. */
  async waitForTask(taskId: string, statuses: string[] = ['completed'], timeoutMs = 60_000): Promise<any> {
    const deadline = Date.now() + timeoutMs;
    let last: any;
    while (Date.now() < deadline) {
      last = (await this.request('GET', `/api/v1/tasks/${taskId}`)).body;
      if (statuses.includes(last?.status)) return last;
      if (['failed', 'cancelled', 'completed'].includes(last?.status)) break;
      await sleep(200);
    }
    throw new Error(`task ${taskId} is ${last?.status}, expected ${statuses.join('|')}: ${JSON.stringify(last)}\n${this.recentOutput()}`);
  }

  recentOutput(lines = 15): string {
    return this.processes.map((p) => `--- ${p.service}.${p.index}\n${p.output.slice(-lines).join('\n')}`).join('\n');
  }

  async query<T = any>(text: string, params: unknown[] = []): Promise<T[]> {
    return (await this.db.query(text, params)).rows as T[];
  }

  /** Stops every process gracefully, then removes the schema and the streams. */
  async stop(options: { skipStreams?: boolean } = {}): Promise<void> {
    await Promise.all(this.processes.map((p) => this.kill(p, 'SIGTERM').catch(() => undefined)));
    await this.db.query(`DROP SCHEMA IF EXISTS ${this.namespace} CASCADE`).catch(() => undefined);
    await this.db.end();
    if (options.skipStreams) return;
    const messaging = await Messaging.connect({ servers: TEST_NATS_URL, namespace: this.namespace, name: 'e2e-cleanup' });
    try {
      await deprovision(messaging);
    } finally {
      await messaging.close();
    }
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `check` returns a truthy value. */
export async function eventually<T>(check: () => Promise<T | undefined | null | false>, timeoutMs = 20_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await check();
    if (value) return value;
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what}`);
}
