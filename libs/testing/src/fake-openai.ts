import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isPromptName, OfflineProvider, PROMPTS, type PromptDefinition } from '@roadmap/llm';

/**
 * What the next call gets instead of a normal answer. Faults are consumed in order, one per
 * chat-completions call (a retry by the SDK is a new call).
 */
export type FakeFault =
  /** An HTTP error in OpenAI's error shape, e.g. 429 with Retry-After, 500, 400. */
  | { status: number; retryAfterSeconds?: number; retryAfterMs?: number; message?: string }
  /** Wait this long before answering normally (a slow or hung model); the client may give up first. */
  | { hangMs: number }
  /** A raw response body, e.g. 'not json' (status 200 unless given). */
  | { body: string; status?: number }
  /** A completion whose message content is this string, e.g. truncated JSON with finishReason 'length'. */
  | { content: string; finishReason?: 'stop' | 'length' | 'content_filter' };

/** A request the fake received. */
export interface FakeRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  /** Parsed JSON body, or the raw text when it is not JSON. */
  readonly body: any;
  /** When it arrived (epoch ms), for counting requests per window. */
  readonly at: number;
}

export interface FakeOpenAiOptions {
  /** When set, requests must carry `Authorization: Bearer <apiKey>`; others get 401. */
  apiKey?: string;
  /** Faults for the first calls (more can be queued later with `fail`). */
  faults?: FakeFault[];
  /** Delay before every normal answer, in ms. */
  latencyMs?: number;
  /**
   * Produces the message content for a normal answer (an object is sent as JSON). By default the
   * fake reads the prompt name from `response_format.json_schema.name` and the input from the JSON
   * block that ends the last user message, and answers with the offline provider's output.
   */
  respond?: (request: FakeRequest) => unknown;
  /** Characters per streamed chunk (`stream: true`). Default 64. */
  streamChunkChars?: number;
  /** Delay between streamed chunks, in ms (0: all at once). Default 0. */
  streamChunkDelayMs?: number;
}

export interface FakeOpenAi {
  /** Base URL, ending in /v1: pass it as the SDK's baseURL / LLM_BASE_URL. */
  readonly url: string;
  /** Every request received, in order, faulted ones included. */
  readonly requests: FakeRequest[];
  /** Chat-completions requests only. */
  readonly completionRequests: FakeRequest[];
  /** Queues faults for the next calls. */
  fail(...faults: FakeFault[]): void;
  /** Faults not yet consumed. */
  readonly pendingFaults: number;
  /**
   * Chat-completions requests per window of `windowMs` (windows aligned to the epoch, as the LLM
   * layer's rate windows are), as `[window start, count]` pairs in time order; faulted requests count.
   */
  countPerWindow(windowMs: number): Array<[number, number]>;
  /** Forgets recorded requests and pending faults. */
  reset(): void;
  close(): Promise<void>;
}

const offline = new OfflineProvider();

/**
 * Starts a fake OpenAI-compatible server on 127.0.0.1 and an ephemeral port: POST /v1/chat/completions
 * (whole answers with usage, or server-sent events with `stream: true`) and GET /v1/models. By default it answers like the offline provider, so the whole
 * platform can run against it with LLM_PROVIDER=openai; tests script failures with `faults` / `fail`.
 */
export async function startFakeOpenAi(options: FakeOpenAiOptions = {}): Promise<FakeOpenAi> {
  const requests: FakeRequest[] = [];
  const faults: FakeFault[] = [...(options.faults ?? [])];
  const timers = new Set<NodeJS.Timeout>();
  let counter = 0;

  /** Resolves after `ms`, or early (false) when the client goes away or the fake closes. */
  const wait = (ms: number, res: ServerResponse) =>
    new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        res.off('close', onClose);
        resolve(true);
      }, ms);
      const onClose = () => {
        clearTimeout(timer);
        timers.delete(timer);
        resolve(false);
      };
      timers.add(timer);
      res.once('close', onClose);
    });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const arrived = Date.now();
    const text = await readBody(req);
    const path = (req.url ?? '/').split('?')[0] as string;
    const request: FakeRequest = { method: req.method ?? 'GET', path, headers: req.headers, body: parseJson(text) ?? text, at: arrived };
    requests.push(request);

    if (options.apiKey !== undefined && req.headers.authorization !== `Bearer ${options.apiKey}`) {
      return sendError(res, 401, 'Incorrect API key provided.', 'invalid_request_error', 'invalid_api_key');
    }
    if (req.method === 'GET' && path === '/v1/models') {
      return sendJson(res, 200, { object: 'list', data: [{ id: 'fake-model', object: 'model', created: 0, owned_by: 'fake' }] });
    }
    if (req.method !== 'POST' || path !== '/v1/chat/completions') {
      return sendError(res, 404, `Unknown route ${req.method} ${path}`, 'invalid_request_error', 'unknown_url');
    }
    const body = request.body as ChatRequest;
    if (typeof body !== 'object' || body === null) return sendError(res, 400, 'Request body is not JSON', 'invalid_request_error');

    const fault = faults.shift();
    if (fault && 'status' in fault && !('body' in fault)) {
      const headers: Record<string, string> = {};
      if (fault.retryAfterSeconds !== undefined) headers['retry-after'] = String(fault.retryAfterSeconds);
      if (fault.retryAfterMs !== undefined) headers['retry-after-ms'] = String(fault.retryAfterMs);
      const type = fault.status === 429 ? 'rate_limit_error' : fault.status >= 500 ? 'server_error' : 'invalid_request_error';
      return sendError(res, fault.status, fault.message ?? `Scripted fault: HTTP ${fault.status}`, type, null, headers);
    }
    if (fault && 'body' in fault) {
      res.writeHead(fault.status ?? 200, { 'content-type': 'application/json' });
      res.end(fault.body);
      return;
    }
    if (fault && 'hangMs' in fault && !(await wait(fault.hangMs, res))) return;
    if (options.latencyMs && !(await wait(options.latencyMs, res))) return;

    let content: string;
    let finishReason = 'stop';
    if (fault && 'content' in fault) {
      content = fault.content;
      finishReason = fault.finishReason ?? 'stop';
    } else {
      try {
        const answer = options.respond ? await options.respond(request) : await offlineAnswer(body);
        content = typeof answer === 'string' ? answer : JSON.stringify(answer);
      } catch (error) {
        return sendError(res, 400, `Fake OpenAI server cannot answer: ${error instanceof Error ? error.message : String(error)}`, 'invalid_request_error');
      }
    }
    if (res.destroyed) return;
    const promptChars = (body.messages ?? []).reduce((n, m) => n + (typeof m.content === 'string' ? m.content.length : 0), 0);
    const usage = { prompt_tokens: Math.ceil(promptChars / 4), completion_tokens: Math.ceil(content.length / 4) };
    if (body.stream === true) {
      return streamCompletion(res, body, content, finishReason, usage, {
        id: `chatcmpl-fake-${++counter}`,
        chunkChars: options.streamChunkChars ?? 64,
        chunkDelayMs: options.streamChunkDelayMs ?? 0,
        wait: (ms) => wait(ms, res),
      });
    }
    sendJson(res, 200, {
      id: `chatcmpl-fake-${++counter}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: body.model ?? 'fake-model',
      choices: [{ index: 0, message: { role: 'assistant', content, refusal: null }, logprobs: null, finish_reason: finishReason }],
      usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens },
    });
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) sendError(res, 500, `Fake OpenAI server error: ${String(error)}`, 'server_error');
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    get completionRequests() {
      return requests.filter((r) => r.path === '/v1/chat/completions');
    },
    fail: (...more) => void faults.push(...more),
    countPerWindow(windowMs: number) {
      const counts = new Map<number, number>();
      for (const r of requests) {
        if (r.path !== '/v1/chat/completions') continue;
        const start = Math.floor(r.at / windowMs) * windowMs;
        counts.set(start, (counts.get(start) ?? 0) + 1);
      }
      return [...counts.entries()].sort((a, b) => a[0] - b[0]);
    },
    get pendingFaults() {
      return faults.length;
    },
    reset() {
      requests.length = 0;
      faults.length = 0;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        server.close((error) => (error ? reject(error) : resolve()));
        // Hung responses and keep-alive sockets would otherwise hold close() open.
        server.closeAllConnections();
      }),
  };
}

interface ChatRequest {
  model?: string;
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
  messages?: Array<{ role: string; content: unknown }>;
  response_format?: { type?: string; json_schema?: { name?: string } };
}

/**
 * Answers as server-sent events, like OpenAI's streaming API: a first chunk with the role, the
 * content in chunks of `chunkChars`, a chunk with the finish reason, then (when the request asked
 * for it with `stream_options.include_usage`) a chunk with empty choices and the usage, and `[DONE]`.
 */
async function streamCompletion(
  res: ServerResponse,
  body: ChatRequest,
  content: string,
  finishReason: string,
  usage: { prompt_tokens: number; completion_tokens: number },
  options: { id: string; chunkChars: number; chunkDelayMs: number; wait: (ms: number) => Promise<boolean> },
): Promise<void> {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  const base = { id: options.id, object: 'chat.completion.chunk', created: Math.floor(Date.now() / 1000), model: body.model ?? 'fake-model' };
  const send = (chunk: unknown) => res.write(`data: ${JSON.stringify(chunk)}\n\n`);
  send({ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }] });
  for (let i = 0; i < content.length; i += Math.max(1, options.chunkChars)) {
    if (options.chunkDelayMs > 0 && !(await options.wait(options.chunkDelayMs))) return;
    if (res.destroyed) return;
    send({ ...base, choices: [{ index: 0, delta: { content: content.slice(i, i + options.chunkChars) }, logprobs: null, finish_reason: null }] });
  }
  send({ ...base, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: finishReason }] });
  if (body.stream_options?.include_usage) {
    send({ ...base, choices: [], usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens } });
  }
  res.end('data: [DONE]\n\n');
}

/** The offline provider's answer to the prompt named in response_format, for the input the user message ends with. */
async function offlineAnswer(body: ChatRequest): Promise<unknown> {
  const name = body.response_format?.json_schema?.name;
  if (!isPromptName(name)) throw new Error(`response_format.json_schema.name ${JSON.stringify(name)} is not a known prompt`);
  // The last user message with the input (a repair prompt adds one after it that has none).
  const input = [...(body.messages ?? [])]
    .reverse()
    .filter((m) => m.role === 'user' && typeof m.content === 'string')
    .map((m) => lastJsonBlock(m.content as string))
    .find((block) => block !== undefined);
  if (input === undefined) throw new Error('no user message ends with a ```json block');
  const prompt = PROMPTS[name] as PromptDefinition<unknown, unknown>;
  return (await offline.generate(prompt, input)).output;
}

/** The JSON of the last ```json fenced block (JSON.stringify never puts a raw newline inside a string). */
export function lastJsonBlock(text: string): unknown {
  const open = text.lastIndexOf('```json\n');
  if (open < 0) return undefined;
  const rest = text.slice(open + '```json\n'.length);
  const close = rest.lastIndexOf('\n```');
  return parseJson(close < 0 ? rest : rest.slice(0, close));
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined; // not JSON: callers keep the raw text or report a missing block
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.destroyed) return;
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

function sendError(res: ServerResponse, status: number, message: string, type: string, code: string | null = null, headers: Record<string, string> = {}): void {
  sendJson(res, status, { error: { message, type, param: null, code } }, headers);
}
