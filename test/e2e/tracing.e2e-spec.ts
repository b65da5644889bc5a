import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { eventually, Platform } from '../support/platform.js';

const GOAL = { goal: 'Become a backend engineer', preferences: { level: 'beginner', hoursPerWeek: 8 }, review: 'skip' };

/** OTLP span kinds (the enum's numbers in OTLP/JSON). */
const KIND = { internal: 1, server: 2, client: 3, producer: 4, consumer: 5 } as const;

/** One exported span, flattened with its process's `service.name`. */
interface ExportedSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  attributes: Record<string, unknown>;
  links: Array<{ traceId: string; spanId: string }>;
}

/** OTLP/JSON ids are hex; accept base64 too, as some exporters send protobuf-JSON bytes. */
function hexId(id: string | undefined): string {
  if (!id) return '';
  return /^[0-9a-f]+$/i.test(id) ? id.toLowerCase() : Buffer.from(id, 'base64').toString('hex');
}

function attributes(list: Array<{ key: string; value: Record<string, unknown> }> | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const { key, value } of list ?? []) {
    const v = value.stringValue ?? value.intValue ?? value.boolValue ?? value.doubleValue;
    out[key] = typeof v === 'string' && 'intValue' in value ? Number(v) : v;
  }
  return out;
}

/** A fake OpenTelemetry collector: accepts OTLP/HTTP JSON on POST /v1/traces and keeps the spans. */
class FakeCollector {
  readonly spans: ExportedSpan[] = [];
  requests = 0;
  private server?: Server;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        this.requests++;
        if (req.method !== 'POST' || req.url !== '/v1/traces') {
          res.writeHead(404).end();
          return;
        }
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        for (const rs of body.resourceSpans ?? []) {
          const service = String(attributes(rs.resource?.attributes)['service.name']);
          for (const ss of rs.scopeSpans ?? []) {
            for (const s of ss.spans ?? []) {
              this.spans.push({
                service,
                traceId: hexId(s.traceId),
                spanId: hexId(s.spanId),
                parentSpanId: hexId(s.parentSpanId),
                name: s.name,
                kind: s.kind,
                attributes: attributes(s.attributes),
                links: (s.links ?? []).map((l: { traceId: string; spanId: string }) => ({ traceId: hexId(l.traceId), spanId: hexId(l.spanId) })),
              });
            }
          }
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const address = this.server.address() as { port: number };
    this.url = `http://127.0.0.1:${address.port}`;
  }

  async stop(): Promise<void> {
    await new Promise((resolve) => this.server?.close(resolve));
  }
}

/** Parsed JSON log lines of a platform's processes of one service. */
function logLines(platform: Platform, service: string): Array<Record<string, any>> {
  const lines: Array<Record<string, any>> = [];
  for (const p of platform.processes.filter((proc) => proc.service === service)) {
    for (const text of p.output) {
      try {
        lines.push(JSON.parse(text));
      } catch {
        // not a JSON line (a stack trace of a crash would show in the assertion messages)
      }
    }
  }
  return lines;
}

describe('OpenTelemetry traces across the platform (OTLP/HTTP JSON to a fake collector)', () => {
  const collector = new FakeCollector();
  let platform: Platform;

  before(async () => {
    await collector.start();
    platform = await Platform.start({
      replicas: { 'content-worker': 1 },
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_TRACES_SAMPLER: 'parentbased_always_on',
        // Export within a fraction of a second instead of the default 5 s.
        OTEL_BSP_SCHEDULE_DELAY: '200',
      },
      // LLM calls are logged at debug: the worker's log line inside a span.
      serviceEnv: { 'workflow-worker': { LOG_LEVEL: 'debug' } },
    });
  });
  after(async () => {
    await platform?.stop();
    await collector.stop();
  });

  it('follows one roadmap from the HTTP request through workflow steps, content items, LLM calls and SQL in one trace', async () => {
    const accepted = await platform.request('POST', '/api/v1/roadmaps', GOAL);
    assert.equal(accepted.status, 202, accepted.text);
    await platform.waitForTask(accepted.body.taskId);
    const [{ items }] = await platform.query<{ items: number }>('SELECT count(*)::int AS items FROM content_items WHERE roadmap_id = $1', [
      accepted.body.roadmapId,
    ]);

    // The request's server span, named by route template by the gateway.
    const request = await eventually(
      async () => collector.spans.find((s) => s.service === 'gateway' && s.kind === KIND.server && s.name === 'POST /api/v1/roadmaps'),
      20_000,
      'the gateway span of POST /api/v1/roadmaps',
    );
    assert.equal(request.attributes['http.route'], '/api/v1/roadmaps');
    assert.equal(request.parentSpanId, '', 'the request starts the trace');
    const inTrace = () => collector.spans.filter((s) => s.traceId === request.traceId);
    const contentConsumers = () => inTrace().filter((s) => s.service === 'content-worker' && s.kind === KIND.consumer);
    const orphans = (spans: ExportedSpan[]) => {
      const ids = new Set(spans.map((s) => s.spanId));
      return spans.filter((s) => s !== request && !ids.has(s.parentSpanId));
    };
    // Spans are exported in batches as they end, a parent after its children: wait until every
    // content item's span is in and every span's parent too. On a timeout the assertions below say
    // what is missing.
    await eventually(async () => contentConsumers().length >= items && orphans(inTrace()).length === 0, 20_000).catch(() => undefined);
    const spans = inTrace();
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    const ancestors = (span: ExportedSpan): ExportedSpan[] => {
      const chain: ExportedSpan[] = [];
      for (let p = byId.get(span.parentSpanId); p; p = byId.get(p.parentSpanId)) chain.push(p);
      return chain;
    };

    // The workflow command is written to the outbox inside the request and sent after the commit by
    // the outbox relay (whichever process holds its lease), continuing the request's trace.
    const send = spans.find((s) => s.kind === KIND.producer && s.name === 'send roadmap.workflow.normal.generate');
    assert.ok(send, `no producer span of the workflow command: ${spans.map((s) => `${s.service}:${s.name}`)}`);
    assert.ok(ancestors(send).includes(request), 'the producer span is under the request span');
    assert.equal(send.attributes['messaging.system'], 'nats');
    assert.equal(send.attributes['messaging.operation.type'], 'send');

    // Workflow worker: its consumer span is the producer's child, across the process boundary (one
    // span per delivery).
    const deliveries = spans.filter((s) => s.service === 'workflow-worker' && s.kind === KIND.consumer);
    assert.ok(deliveries.length > 0, 'no workflow-worker consumer span in the trace');
    for (const delivery of deliveries) {
      assert.equal(delivery.parentSpanId, send.spanId);
      assert.equal(delivery.name, 'process roadmap.workflow.normal.generate');
      assert.equal(delivery.attributes['messaging.destination.name'], 'roadmap.workflow.normal.generate');
      assert.equal(delivery.attributes['messaging.operation.type'], 'process');
      assert.equal(delivery.attributes['messaging.consumer.group.name'], 'workflow-worker-normal');
      assert.equal(delivery.attributes['messaging.message.id'], send.attributes['messaging.message.id']);
      assert.match(String(delivery.attributes['messaging.message.id']), new RegExp(accepted.body.taskId));
      assert.ok(Number(delivery.attributes['messaging.nats.message.delivery_count']) >= 1);
    }

    // A span per workflow step, under the (successful) delivery's consumer span.
    const steps = spans.filter((s) => s.service === 'workflow-worker' && s.name.startsWith('workflow step '));
    const stepNames = new Set(steps.map((s) => s.attributes['roadmap.workflow.step']));
    for (const step of ['intent_analysis', 'curriculum_design', 'validation', 'fan_out']) assert.ok(stepNames.has(step), `no span of step ${step}: ${[...stepNames]}`);
    const workflow = deliveries.find((d) => steps.every((step) => ancestors(step).includes(d)));
    assert.ok(workflow, 'the steps run under one workflow consumer span');
    for (const step of steps) assert.equal(step.attributes['roadmap.task.id'], accepted.body.taskId);

    // Content worker: each item's consumer span is the child of a producer span (the outbox relay's,
    // in whichever process holds its lease) continuing the fan-out step's trace.
    const fanOut = steps.find((s) => s.attributes['roadmap.workflow.step'] === 'fan_out')!;
    const consumers = contentConsumers();
    assert.equal(new Set(consumers.map((s) => s.attributes['messaging.message.id'])).size, items, 'one consumer span per content item');
    for (const consumer of consumers) {
      const producer = byId.get(consumer.parentSpanId);
      assert.equal(producer?.kind, KIND.producer, `${consumer.name} has a producer parent`);
      assert.ok(ancestors(producer!).includes(fanOut), 'content is published by the fan-out step');
    }
    const itemSpans = spans.filter((s) => s.service === 'content-worker' && s.name.startsWith('content item '));
    assert.equal(itemSpans.length, consumers.length);

    // LLM calls: CLIENT spans with the GenAI attributes, one per step call and per content item.
    const llm = spans.filter((s) => s.kind === KIND.client && s.attributes['gen_ai.operation.name'] === 'chat');
    const llmIn = (service: string) => llm.filter((s) => s.service === service);
    assert.ok(llmIn('workflow-worker').length >= 3, `workflow LLM spans: ${llmIn('workflow-worker').length}`);
    assert.equal(llmIn('content-worker').length, items);
    for (const call of llm) {
      assert.equal(call.attributes['gen_ai.provider.name'], 'offline');
      assert.equal(typeof call.attributes['gen_ai.request.model'], 'string');
      assert.ok(Number(call.attributes['gen_ai.usage.input_tokens']) > 0, `${call.name} input tokens`);
      assert.ok(Number(call.attributes['gen_ai.usage.output_tokens']) > 0, `${call.name} output tokens`);
    }
    for (const call of llmIn('content-worker')) assert.ok(ancestors(call).some((a) => itemSpans.includes(a)), 'an LLM call is under its content item');

    // SQL: pg spans in each of the three services, inside this trace.
    for (const service of ['gateway', 'workflow-worker', 'content-worker']) {
      const sql = spans.filter((s) => s.service === service && s.kind === KIND.client && (s.attributes['db.system.name'] ?? s.attributes['db.system']) === 'postgresql');
      assert.ok(sql.length > 0, `no SQL spans of ${service} in the trace`);
    }

    // Nothing dangles: every span but the request's has its parent in the trace.
    assert.deepEqual(orphans(spans).map((s) => `${s.service}: ${s.name}`), []);

    // A worker's log line written inside the trace carries its trace id and the span it was in.
    const llmLine = logLines(platform, 'workflow-worker').find((l) => l.msg === 'llm call completed' && l.trace_id === request.traceId);
    assert.ok(llmLine, 'no workflow-worker log line with the trace id');
    assert.ok(llmIn('workflow-worker').some((s) => s.spanId === llmLine.span_id), 'the log line names the LLM span it was written in');
  });

  it('does not trace health probes and metric scrapes', async () => {
    const gateway = platform.processes.find((p) => p.service === 'gateway')!;
    for (const path of ['/healthz', '/readyz', '/metrics']) assert.equal((await fetch(`http://127.0.0.1:${gateway.port}${path}`)).status, 200);
    const probe = await platform.request('GET', '/api/v1/tasks?limit=1');
    assert.equal(probe.status, 200);
    await eventually(async () => collector.spans.some((s) => s.name === 'GET /api/v1/tasks'), 20_000, 'the span of GET /api/v1/tasks');
    assert.deepEqual(
      collector.spans.filter((s) => s.kind === KIND.server && /healthz|readyz|metrics/.test(`${s.name} ${s.attributes['url.path']}`)).map((s) => s.name),
      [],
    );
  });
});

describe('tracing is off unless configured', () => {
  const collector = new FakeCollector();
  let platform: Platform;

  before(async () => {
    await collector.start();
    // Gateway and workflow worker: an endpoint but OTEL_SDK_DISABLED; the others: no OTEL variable at all.
    const disabled = { OTEL_EXPORTER_OTLP_ENDPOINT: collector.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_BSP_SCHEDULE_DELAY: '200', OTEL_SDK_DISABLED: 'true' };
    platform = await Platform.start({
      replicas: { 'content-worker': 1 },
      serviceEnv: { gateway: disabled, 'workflow-worker': { ...disabled, LOG_LEVEL: 'debug' }, 'content-worker': { LOG_LEVEL: 'debug' } },
    });
  });
  after(async () => {
    await platform?.stop();
    await collector.stop();
  });

  it('exports no span and writes no trace id while the platform works as usual', async () => {
    const accepted = await platform.request('POST', '/api/v1/roadmaps', GOAL);
    assert.equal(accepted.status, 202, accepted.text);
    await platform.waitForTask(accepted.body.taskId);
    // Longer than the batch delay the exporter would have used.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    assert.equal(collector.requests, 0);
    for (const service of ['gateway', 'workflow-worker', 'content-worker', 'log-sink']) {
      const lines = logLines(platform, service);
      assert.ok(lines.length > 0, `${service} logged nothing`);
      assert.deepEqual(lines.filter((l) => 'trace_id' in l || l.msg === 'OpenTelemetry tracing on').map((l) => l.msg), [], service);
    }
    assert.ok(logLines(platform, 'workflow-worker').some((l) => l.msg === 'llm call completed'), 'lines inside handlers were written (and carry no trace id)');
  });
});
