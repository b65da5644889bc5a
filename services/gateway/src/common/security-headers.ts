import type { FastifyInstance } from 'fastify';

/** The API returns JSON only: nothing may load, frame or submit anywhere. */
const API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
/** The OpenAPI UI (/docs) loads its own scripts and styles (and inline bits of swagger-ui). */
const DOCS_CSP =
  "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data: https:; " +
  "font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'";

/**
 * The web console (/console): its own scripts, styles and API calls only (no inline script, no
 * eval, nothing from another origin); the API it calls answers with API_CSP as always.
 */
const CONSOLE_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; " +
  "frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'";

const COMMON: ReadonlyArray<[string, string]> = [
  ['X-Content-Type-Options', 'nosniff'],
  ['X-Frame-Options', 'DENY'],
  ['Referrer-Policy', 'no-referrer'],
  ['Cross-Origin-Opener-Policy', 'same-origin'],
  ['Strict-Transport-Security', 'max-age=31536000; includeSubDomains'],
  ['X-Permitted-Cross-Domain-Policies', 'none'],
];

/**
 * Security headers on every response, set on the raw response at the start of the request so they
 * are also on streamed (SSE, hijacked) and error responses: a strict CSP for the API, a relaxed one
 * for /docs and the console.
 */
export function installSecurityHeaders(fastify: FastifyInstance): void {
  fastify.addHook('onRequest', (request, reply, done) => {
    for (const [name, value] of COMMON) reply.raw.setHeader(name, value);
    const path = request.url.split('?')[0] ?? '';
    reply.raw.setHeader('Content-Security-Policy', cspFor(path));
    done();
  });
}

function cspFor(path: string): string {
  if (path === '/docs' || path.startsWith('/docs/')) return DOCS_CSP;
  if (path === '/console' || path.startsWith('/console/')) return CONSOLE_CSP;
  return API_CSP;
}
