import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import SwaggerParser from '@apidevtools/swagger-parser';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants.js';
import { RequestMethod } from '@nestjs/common';
import { OPENAPI_FILE, renderOpenApiDocument } from '../src/openapi/document.js';

/*
 * The committed OpenAPI document (services/gateway/src/openapi/openapi.json): what front ends and
 * libs/client are generated from. Needs no server: the document is built from the code alone.
 */

const root = fileURLToPath(new URL('../../../../', import.meta.url));
const METHODS = ['get', 'put', 'post', 'delete', 'patch'] as const;

interface Operation {
  operationId?: string;
  summary?: string;
  tags?: string[];
  requestBody?: { content: Record<string, { schema?: unknown; example?: unknown }> };
  responses: Record<string, { content?: Record<string, { schema?: { $ref?: string }; example?: unknown }> }>;
}

async function committed(): Promise<{ paths: Record<string, Partial<Record<(typeof METHODS)[number], Operation>>>; components: Record<string, Record<string, unknown>> }> {
  return JSON.parse(await readFile(OPENAPI_FILE, 'utf8'));
}

function operations(doc: Awaited<ReturnType<typeof committed>>) {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    METHODS.flatMap((method) => (item[method] ? [{ path, method, op: item[method] }] : [])),
  );
}

/** Every route the gateway's controllers declare, as `METHOD /path/{param}` (read from Nest's metadata, no app started). */
async function controllerRoutes(): Promise<string[]> {
  const dir = fileURLToPath(new URL('../src/', import.meta.url));
  const files = (await readdir(dir, { recursive: true })).filter((f) => f.endsWith('.controller.js'));
  const routes: string[] = [];
  for (const file of files) {
    const module = (await import(join(dir, file))) as Record<string, unknown>;
    for (const candidate of Object.values(module)) {
      if (typeof candidate !== 'function') continue;
      const base = Reflect.getMetadata(PATH_METADATA, candidate) as string | undefined;
      if (base === undefined) continue;
      for (const name of Object.getOwnPropertyNames(candidate.prototype)) {
        const handler = (candidate.prototype as Record<string, unknown>)[name];
        if (name === 'constructor' || typeof handler !== 'function' || Reflect.getMetadata(PATH_METADATA, handler) === undefined) continue;
        const sub = Reflect.getMetadata(PATH_METADATA, handler) as string;
        const method = RequestMethod[Reflect.getMetadata(METHOD_METADATA, handler) as number];
        const path = `/${[base, sub].filter((p) => p && p !== '/').join('/')}`.replace(/:(\w+)/g, '{$1}');
        routes.push(`${method} ${path}`);
      }
    }
  }
  return routes.sort();
}

describe('OpenAPI document', () => {
  it('is committed as the code builds it (run npm run openapi after changing the API)', async () => {
    assert.equal(await readFile(OPENAPI_FILE, 'utf8'), renderOpenApiDocument(), 'services/gateway/src/openapi/openapi.json is stale: run npm run openapi');
  });

  it('has its typed client (libs/client) generated from the committed document', async () => {
    const out = join(await mkdtemp(join(tmpdir(), 'openapi-client-')), 'openapi.ts');
    const run = spawnSync(process.execPath, [join(root, 'node_modules/openapi-typescript/bin/cli.js'), fileURLToPath(OPENAPI_FILE), '-o', out], { cwd: root, encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(await readFile(join(root, 'libs/client/src/generated/openapi.ts'), 'utf8'), await readFile(out, 'utf8'), 'libs/client is stale: run npm run openapi');
  });

  it('is valid OpenAPI 3.1 for swagger-parser', async () => {
    const api = await SwaggerParser.validate(fileURLToPath(OPENAPI_FILE));
    assert.equal((api as { openapi: string }).openapi, '3.1.0');
  });

  it('passes redocly lint (recommended rules) without errors or warnings', () => {
    const run = spawnSync(process.execPath, [join(root, 'node_modules/@redocly/cli/bin/cli.js'), 'lint', '--extends', 'recommended', '--format', 'json', fileURLToPath(OPENAPI_FILE)], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
    });
    const report = JSON.parse(run.stdout.slice(run.stdout.indexOf('{'))) as { totals: { errors: number; warnings: number }; problems: Array<{ ruleId: string; message: string }> };
    assert.deepEqual(report.problems.map((p) => `${p.ruleId}: ${p.message}`), []);
    assert.deepEqual(report.totals, { ...report.totals, errors: 0, warnings: 0 });
    assert.equal(run.status, 0);
  });

  it('documents every route the gateway serves, and nothing else', async () => {
    const documented = operations(await committed()).map(({ path, method }) => `${method.toUpperCase()} ${path}`).sort();
    assert.deepEqual(documented, await controllerRoutes());
  });

  it('gives every operation an id, a summary, a tag, schemas for its body and every response, and examples', async () => {
    const doc = await committed();
    const ids = new Set<string>();
    for (const { path, method, op } of operations(doc)) {
      const where = `${method.toUpperCase()} ${path}`;
      assert.ok(op.operationId && /^[a-z][A-Za-z]+$/.test(op.operationId), `${where}: operationId`);
      assert.ok(!ids.has(op.operationId), `${where}: operationId ${op.operationId} is used twice`);
      ids.add(op.operationId);
      assert.ok(op.summary, `${where}: summary`);
      assert.ok(op.tags?.length, `${where}: tags`);
      for (const media of Object.values(op.requestBody?.content ?? {})) assert.ok(media.schema && media.example !== undefined, `${where}: request schema and example`);
      let examples = 0;
      for (const [status, response] of Object.entries(op.responses)) {
        if (status === '204') continue;
        const media = Object.values(response.content ?? {});
        assert.ok(media.length > 0 && media.every((m) => m.schema), `${where} ${status}: a response schema`);
        if (status.startsWith('4') || status.startsWith('5')) {
          assert.deepEqual(Object.keys(response.content!), ['application/json'], `${where} ${status}: JSON error`);
          assert.equal(response.content!['application/json']!.schema!.$ref, '#/components/schemas/Error', `${where} ${status}: the error shape`);
        }
        examples += media.filter((m) => m.example !== undefined).length;
      }
      assert.ok(op.responses['401'], `${where}: 401 documented`);
      assert.ok(examples > 0, `${where}: examples`);
    }
    assert.ok(ids.size >= 24, `${ids.size} operations`);
  });

  it('describes the error shape { code, message, details: [{ path, message }] }, the credentials and the event stream', async () => {
    const doc = await committed();
    const schemas = doc.components.schemas as Record<string, { properties: Record<string, unknown>; required?: string[] }>;
    assert.deepEqual(schemas.Error!.required, ['code', 'message']);
    assert.ok(schemas.Error!.properties.details);
    assert.deepEqual(schemas.FieldIssue!.required?.filter((f) => f !== 'field'), ['path', 'message']);
    const schemes = doc.components.securitySchemes as Record<string, { type: string; scheme?: string; bearerFormat?: string; in?: string; name?: string }>;
    assert.ok(Object.values(schemes).some((s) => s.type === 'apiKey' && s.in === 'header' && s.name === 'X-Api-Key'));
    assert.ok(Object.values(schemes).some((s) => s.type === 'http' && s.scheme === 'bearer' && s.bearerFormat === 'JWT'));
    const sse = doc.paths['/api/v1/tasks/{id}/events']!.get!.responses['200']!.content!['text/event-stream']!;
    assert.equal(sse.schema!.$ref, '#/components/schemas/TaskEvent');
    const events = (schemas.TaskEvent as unknown as { oneOf: Array<{ properties: { type: { const: string } } }> }).oneOf.map((e) => e.properties.type.const);
    for (const name of ['task.completed', 'task.failed', 'task.cancelled', 'review.awaiting', 'item.completed']) assert.ok(events.includes(name), name);
  });
});
