import { createRequire } from 'node:module';
import { context, isSpanContextValid, ProxyTracerProvider, SpanKind, SpanStatusCode, trace, type Attributes, type Span } from '@opentelemetry/api';

export { SpanKind, type Attributes, type Span } from '@opentelemetry/api';

/** Name of the tracer every span of the platform's own code comes from. */
export const TRACER_NAME = 'roadmap';

/** HTTP paths of probes and scrapes: every few seconds, never worth a trace. */
const UNTRACED_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * How long the last export may take at shutdown. The exporter retries an unreachable collector with
 * backoff; a rollout must not wait on it (seen: 8 s per pod with the collector down).
 */
const SHUTDOWN_EXPORT_MS = 2_000;

/** A started SDK: flush and stop it before the process exits. */
export interface Tracing {
  /** Exports what is batched and stops; rejects when that takes longer than `timeoutMs` (default 2 s). */
  shutdown(timeoutMs?: number): Promise<void>;
}

/**
 * Whether the standard OpenTelemetry variables ask for traces: an OTLP endpoint
 * (`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set, and neither
 * `OTEL_SDK_DISABLED=true` nor `OTEL_TRACES_EXPORTER=none` turns them off. Without an endpoint the
 * SDK is not even loaded: tracing costs nothing unless it is configured.
 */
export function tracingConfigured(env: NodeJS.ProcessEnv = process.env): boolean {
  if ((env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() === 'true') return false;
  if ((env.OTEL_TRACES_EXPORTER ?? '').split(',').some((e) => e.trim().toLowerCase() === 'none')) return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim());
}

/**
 * Starts the OpenTelemetry Node SDK for `service` when {@link tracingConfigured}; otherwise does
 * nothing and resolves undefined. Everything else comes from the standard `OTEL_*` variables
 * (protocol, headers, sampler, batch delays, resource attributes); `OTEL_SERVICE_NAME` overrides
 * `service` as `service.name`. Traces only: metrics stay on Prometheus, logs on stdout.
 *
 * Must run before the database driver is first required (TypeORM requires `pg` when the data source
 * is created) and before the HTTP server is created: both are then patched through `require`, so no
 * ESM loader hook is needed (see docs/design.md, "Tracing"). `env` decides whether to start and the
 * default service name; the SDK itself reads `process.env`.
 */
export async function startTracing(service: string, env: NodeJS.ProcessEnv = process.env): Promise<Tracing | undefined> {
  if (!tracingConfigured(env)) return undefined;
  // Loaded only when configured: the SDK and its exporters are a lot of code to load for nothing.
  const [{ NodeSDK }, { HttpInstrumentation }, { PgInstrumentation }] = await Promise.all([
    import('@opentelemetry/sdk-node'),
    import('@opentelemetry/instrumentation-http'),
    import('@opentelemetry/instrumentation-pg'),
  ]);
  const sdk = new NodeSDK({
    serviceName: env.OTEL_SERVICE_NAME?.trim() || service,
    // Prometheus has the metrics and stdout the logs: the SDK exports spans only.
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (request) => UNTRACED_PATHS.has((request.url ?? '').split('?', 1)[0]!),
        // Outgoing HTTP of the platform is the exporter itself and the LLM (fetch, spanned as gen_ai).
        disableOutgoingRequestInstrumentation: true,
      }),
      new PgInstrumentation({
        // Queries outside any trace (lease renewals, pool checks) would each make a trace of one span.
        requireParentSpan: true,
        // Statement text is reported, bound values never (they hold goals, content, key hashes).
        enhancedDatabaseReporting: false,
        ignoreConnectSpans: true,
      }),
    ],
  });
  sdk.start();
  // The instrumentations patch modules as they are required. Fastify required `http` when the service
  // imported it, before the SDK: requiring it once more hands the (shared, cached) module to the HTTP
  // instrumentation, which patches `Server.prototype.emit` in place, so the server made later is traced.
  createRequire(import.meta.url)('node:http');
  return {
    shutdown: (timeoutMs = SHUTDOWN_EXPORT_MS) => {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`the last traces were not exported within ${timeoutMs} ms`)), timeoutMs);
        timer.unref();
      });
      return Promise.race([sdk.shutdown(), late]).finally(() => clearTimeout(timer));
    },
  };
}

/** Trace and span id of the active span, for log lines (snake_case, as log pipelines expect). */
export function activeTraceIds(): { trace_id: string; span_id: string } | undefined {
  const span = trace.getSpan(context.active());
  if (!span) return undefined;
  const ids = span.spanContext();
  return isSpanContextValid(ids) ? { trace_id: ids.traceId, span_id: ids.spanId } : undefined;
}

let active = false;

/**
 * Whether an SDK is registered, so spans are recorded. Hot paths (every message published or
 * handled) check it to skip building span data that a no-op tracer would throw away: about 3 µs a
 * message. Once true it stays true (the SDK is registered once, at start-up).
 */
export function tracingActive(): boolean {
  if (active) return true;
  const provider = trace.getTracerProvider();
  // A provider of another copy of the API is not our proxy class: assume it traces.
  active = !(provider instanceof ProxyTracerProvider) || provider.getDelegateTracer(TRACER_NAME) !== undefined;
  return active;
}

/** The tracer of the platform's own spans (a no-op one until the SDK is started). */
export function tracer() {
  return trace.getTracer(TRACER_NAME);
}

/** Options of {@link withSpan}. */
export interface SpanOptions {
  readonly kind?: SpanKind;
  readonly attributes?: Attributes;
}

/**
 * Runs `fn` inside a new active span (a child of the active one) and ends it when `fn` settles: an
 * error is recorded on the span, which gets status ERROR, and rethrown. Without the SDK this is a
 * no-op span and costs next to nothing.
 */
export function withSpan<T>(name: string, options: SpanOptions, fn: (span: Span) => Promise<T> | T): Promise<T> {
  return tracer().startActiveSpan(name, { kind: options.kind ?? SpanKind.INTERNAL, attributes: options.attributes }, async (span) => {
    try {
      return await fn(span);
    } catch (error) {
      failSpan(span, error);
      throw error;
    } finally {
      span.end();
    }
  });
}

/** Marks `span` failed by `error` (status ERROR with the message, the exception as an event). */
export function failSpan(span: Span, error: unknown): void {
  if (error instanceof Error) span.recordException(error);
  span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
}

/** The parts of a Fastify instance {@link installHttpSpanRoutes} needs (structural, like the metrics hook). */
interface RoutableServer {
  addHook(name: 'onRequest', hook: (request: RoutedRequest, reply: unknown, done: () => void) => void): unknown;
}
interface RoutedRequest {
  readonly method: string;
  readonly routeOptions?: { readonly url?: string };
  readonly is404?: boolean;
}

/**
 * Names the HTTP server span by route template (`POST /api/v1/roadmaps`) and sets `http.route`: the
 * HTTP instrumentation sees the raw request only and would name every span by its method alone.
 */
export function installHttpSpanRoutes(server: RoutableServer): void {
  server.addHook('onRequest', (request, _reply, done) => {
    const url = request.routeOptions?.url;
    const span = url && !request.is404 ? trace.getSpan(context.active()) : undefined;
    if (span?.isRecording()) {
      span.setAttribute('http.route', url!);
      span.updateName(`${request.method} ${url}`);
    }
    done();
  });
}
