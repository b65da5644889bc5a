import { counter, histogram } from '@roadmap/observability';

/** Route label of requests no route matched (404s, scanners): one series, never the raw URL. */
export const UNMATCHED_ROUTE = 'unmatched';

/** HTTP latency buckets: 5 ms to 30 s (the API answers fast; SSE streams land in +Inf and SLO queries exclude their route). */
const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export const httpRequestDuration = histogram(
  'roadmap_http_request_duration_seconds',
  'HTTP request duration by method, route template and status code',
  ['method', 'route', 'status'],
  HTTP_BUCKETS,
);

export const httpRequestsTotal = counter('roadmap_http_requests_total', 'HTTP requests by method, route template and status code', [
  'method',
  'route',
  'status',
]);

/** The parts of a Fastify instance the hook needs (kept structural so tests can pass a bare Fastify). */
interface HookableServer {
  addHook(name: 'onResponse', hook: (request: HookRequest, reply: HookReply) => Promise<void> | void): unknown;
}
interface HookRequest {
  readonly method: string;
  readonly routeOptions?: { readonly url?: string };
  readonly is404?: boolean;
}
interface HookReply {
  readonly statusCode: number;
  readonly elapsedTime: number;
}

/** Known methods keep their name; anything else is `OTHER` (bounded label values). */
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** The route label: Fastify's route pattern (`/api/v1/tasks/:id`), or `unmatched`. */
export function routeLabel(request: HookRequest): string {
  const url = request.routeOptions?.url;
  if (!url || request.is404) return UNMATCHED_ROUTE;
  return url;
}

/**
 * Measures every HTTP response of a Fastify instance by route template (never the raw URL, so ids
 * do not explode the series count) and status. Installed by runService() for every service.
 */
export function installHttpMetrics(server: HookableServer): void {
  server.addHook('onResponse', (request, reply) => {
    const labels = {
      method: METHODS.has(request.method) ? request.method : 'OTHER',
      route: routeLabel(request),
      status: String(reply.statusCode),
    };
    httpRequestsTotal.inc(labels);
    httpRequestDuration.observe(labels, reply.elapsedTime / 1000);
  });
}
