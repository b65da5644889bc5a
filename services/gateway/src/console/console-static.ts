import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { Logger } from '@roadmap/observability';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** Where the console is served: static files, public (they hold no data; every API call is authenticated). */
export const CONSOLE_PATH = '/console';

/**
 * apps/console/dist, built by `scripts/build.mjs` (Vite). From services/gateway/dist/src/console/ the
 * repository root (or /app in the image) is five folders up.
 */
export const CONSOLE_DIST = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', '..', 'apps', 'console', 'dist');

/** Vite names every asset after its content hash: a changed file is a new URL, so it may be cached for good. */
const IMMUTABLE = 'public, max-age=31536000, immutable';

/**
 * Serves the web console under /console: its hashed assets with a long cache, and index.html (never
 * cached, so a new build is picked up at once) for /console and every client route below it (the
 * single-page app's own router reads the path). Registered on Fastify directly, outside Nest's
 * router and so outside the API's guard, like /docs. A missing asset under /console/assets is a
 * JSON 404, never index.html (a stale page must not run HTML as a script).
 */
export function installConsole(fastify: FastifyInstance, logger: Logger, dir = CONSOLE_DIST): void {
  const index = join(dir, 'index.html');
  if (!existsSync(index)) {
    logger.warn({ dir }, 'the web console is not built (npm run build builds it): /console is not served');
    return;
  }
  const sendIndex = async (_request: FastifyRequest, reply: FastifyReply) =>
    reply.type('text/html; charset=utf-8').header('Cache-Control', 'no-cache').send(await readFile(index));

  void fastify.register(
    async (instance) => {
      await instance.register(fastifyStatic, {
        root: dir,
        prefix: '/',
        decorateReply: false,
        index: false,
        cacheControl: false,
        setHeaders: (reply, path) => {
          void reply.header('Cache-Control', path.includes('/assets/') ? IMMUTABLE : 'no-cache');
        },
      });
      instance.get('/', sendIndex);
      instance.setNotFoundHandler(async (request, reply) => {
        const path = request.url.split('?')[0] ?? '';
        if ((request.method !== 'GET' && request.method !== 'HEAD') || path.startsWith(`${CONSOLE_PATH}/assets/`)) {
          return reply.code(404).send({ code: 'ROUTE_NOT_FOUND', message: `${request.method} ${path} is not a file of the console` });
        }
        return sendIndex(request, reply);
      });
    },
    { prefix: CONSOLE_PATH },
  );
}
