/*
 * Checks of the service images (one parameterised Dockerfile at the repository root) and of
 * skaffold.yaml, which builds them and deploys the chart. No Docker here: the Dockerfile is read as
 * a reviewer reads it, and the workspace selection it runs (deploy/docker/workspaces.mjs) is checked
 * against the services' own manifests.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { chart, helm, parseManifests, root, SERVICES, startHelm, stopHelm, validateAgainstModel, type Obj } from './support.js';

const camel = (service: string) => service.replace(/-(\w)/g, (_m, ch: string) => ch.toUpperCase());

/** @roadmap/* libs a package needs at run time, transitively (dependencies, not devDependencies). */
async function runtimeLibs(pkgDir: string, seen = new Set<string>()): Promise<Set<string>> {
  const manifest = JSON.parse(await readFile(join(root, pkgDir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
  for (const dep of Object.keys(manifest.dependencies ?? {})) {
    if (!dep.startsWith('@roadmap/')) continue;
    const lib = dep.slice('@roadmap/'.length);
    if (seen.has(lib)) continue;
    seen.add(lib);
    await runtimeLibs(join('libs', lib), seen);
  }
  return seen;
}

interface Workspaces {
  runtimeWorkspaces(root: string, service: string): string[];
  defaultPort(root: string, service: string): number;
}
const workspaces = async () => (await import(join(root, 'deploy', 'docker', 'workspaces.mjs'))) as Workspaces;

describe('service image (Dockerfile)', () => {
  let lines: string[] = [];
  before(async () => {
    const text = await readFile(join(root, 'Dockerfile'), 'utf8');
    lines = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  });
  const finalStage = () => lines.slice(lines.findLastIndex((l) => /^FROM\s/i.test(l)));

  it('is one Dockerfile for every service: no per-service copies', async () => {
    for (const service of SERVICES) {
      await assert.rejects(readFile(join(root, 'services', service, 'Dockerfile')), `services/${service}/Dockerfile still exists`);
    }
    assert.ok(lines.includes('ARG SERVICE'), 'a SERVICE build argument');
  });

  it('builds on Node 24 and runs on distroless Node 24: no npm, no shell, nothing run in the final stage', () => {
    const args = new Map(lines.filter((l) => l.startsWith('ARG ') && l.includes('=')).map((l) => l.slice(4).split('=') as [string, string]));
    const froms = lines.filter((l) => /^FROM\s/i.test(l)).map((l) => l.split(/\s+/)[1] as string);
    assert.ok(froms.length >= 4, `${froms.length} stages`);
    const resolve = (from: string) => from.replace(/^\$\{(\w+)\}$/, (_m, name: string) => args.get(name) ?? from);
    for (const from of froms.slice(0, -1)) {
      const image = resolve(from);
      if (!/[:/]/.test(image) && lines.some((l) => new RegExp(`^FROM .* AS ${image}$`, 'i').test(l))) continue;
      assert.match(image, /^node:24(\.\d+)*(-[a-z0-9.-]+)?(@sha256:[a-f0-9]+)?$/, `build base image ${image}`);
    }
    assert.match(resolve(froms.at(-1) as string), /^gcr\.io\/distroless\/nodejs24-debian\d+(:[a-z0-9-]+)?(@sha256:[a-f0-9]+)?$/, 'runtime base image');
    const last = finalStage();
    assert.ok(!last.some((l) => /^RUN\s/.test(l)), 'RUN in the final stage (distroless has no shell)');
    const user = last.find((l) => l.startsWith('USER '))?.slice(5).trim();
    assert.ok(user && !/^(0|root)(:|$)/.test(user), `final USER ${user}`);
    assert.match(user, /^\d+(:\d+)?$/, 'USER must be numeric for runAsNonRoot');
    assert.ok(last.includes('STOPSIGNAL SIGTERM'));
    assert.ok(last.includes('ENTRYPOINT ["/nodejs/bin/node"]'), 'node is the entrypoint (the chart passes node arguments)');
    assert.ok(last.includes('CMD ["--enable-source-maps", "main.js"]'));
    assert.ok(last.includes('EXPOSE ${PORT}'));
  });

  it('installs with npm ci from the lock file, production dependencies of the one service only', () => {
    const installs = lines.filter((l) => /\bnpm (ci|install)\b/.test(l));
    assert.ok(installs.length >= 2, installs.join('\n'));
    for (const install of installs) assert.match(install, /\bnpm ci\b/, `not npm ci: ${install}`);
    const production = installs.find((l) => l.includes('--omit=dev'));
    assert.ok(production, 'no production-only install');
    assert.match(production, /--workspace "services\/\$\{SERVICE\}"/, 'production install not limited to the service');
  });

  for (const service of SERVICES) {
    it(`${service}: the image carries exactly its own code and the libs it imports, and its port`, async () => {
      const { runtimeWorkspaces, defaultPort } = await workspaces();
      const expected = [`services/${service}`, ...[...(await runtimeLibs(join('services', service)))].map((lib) => `libs/${lib}`)];
      if (service === 'gateway') expected.push('apps/console');
      assert.deepEqual(runtimeWorkspaces(root, service).sort(), expected.sort());
      const values = parseYaml(await readFile(join(chart, 'values.yaml'), 'utf8')) as Obj;
      assert.equal(defaultPort(root, service), values.services[camel(service)].port, `${service}: default PORT vs the chart's port`);
    });
  }

  it('the gateway image carries the migration and provisioning CLIs the hook Job runs', async () => {
    const libs = await runtimeLibs(join('services', 'gateway'));
    assert.ok(libs.has('persistence') && libs.has('messaging'));
  });

  it('.dockerignore keeps node_modules, dist, tests and local state out of the build context', async () => {
    const ignore = (await readFile(join(root, '.dockerignore'), 'utf8')).split('\n').map((l) => l.trim());
    assert.equal(ignore.find((l) => l && !l.startsWith('#')), '*', 'an allow-list starting with *');
    for (const allowed of ignore.filter((l) => l.startsWith('!'))) {
      assert.ok(!/node_modules|dist|test|\.git|\.env/.test(allowed), `${allowed} lets local state in`);
    }
    assert.ok(ignore.includes('**/*.spec.ts'));
    // Everything the Dockerfile copies is in the context.
    for (const copy of lines.filter((l) => /^COPY (?!--from)/.test(l))) {
      for (const source of copy.split(/\s+/).slice(1, -1)) {
        assert.ok(ignore.some((l) => l === `!${source}` || l.startsWith(`!${source}/`)), `COPY ${source} is not in the build context`);
      }
    }
  });
});

describe('skaffold.yaml', () => {
  before(startHelm);
  after(stopHelm);

  it('builds the image of every service from the one Dockerfile and hands each to its service in the chart', async () => {
    const config = parseYaml(await readFile(join(root, 'skaffold.yaml'), 'utf8')) as Obj;
    const artifacts = config.build.artifacts as Obj[];
    const values = parseYaml(await readFile(join(chart, 'values.yaml'), 'utf8')) as Obj;
    assert.deepEqual(artifacts.map((a) => a.docker?.buildArgs?.SERVICE).sort(), [...SERVICES].sort());
    for (const a of artifacts) {
      const service = String(a.image).split('/').pop() as string;
      assert.equal(a.context, '.', `${a.image}: context`);
      assert.equal(a.docker.dockerfile, 'Dockerfile', `${a.image}: dockerfile`);
      assert.equal(a.docker.buildArgs.SERVICE, service, `${a.image}: SERVICE`);
      assert.equal(a.docker.buildArgs.PORT, String(values.services[camel(service)].port), `${a.image}: PORT`);
    }
    const releases = [config.deploy, ...(config.profiles as Obj[]).map((p) => p.deploy)].flatMap((d) => (d?.helm?.releases ?? []) as Obj[]);
    const own = releases.filter((r) => r.chartPath === 'deploy/helm/roadmap');
    assert.equal(own.length, 2, 'the chart in the default deploy and in the dev profile');
    for (const release of own) {
      // Every artifact's image, under its sanitised name, goes to services.<key>.image.ref of its service.
      const templates = release.setValueTemplates as Record<string, string>;
      for (const a of artifacts) {
        const key = camel(String(a.image).split('/').pop() as string);
        assert.ok(values.services[key], `no services.${key} in values.yaml`);
        assert.equal(templates[`services.${key}.image.ref`], `{{.IMAGE_FULLY_QUALIFIED_${String(a.image).replace(/[/-]/g, '_')}}}`, `${key}: image template`);
      }
      for (const file of release.valuesFiles ?? []) await readFile(join(root, file));
    }
  });

  it('brings NATS (official chart) and a PostgreSQL of its own (no third-party chart) in the dev profile, before the platform', async () => {
    const config = parseYaml(await readFile(join(root, 'skaffold.yaml'), 'utf8')) as Obj;
    const dev = (config.profiles as Obj[]).find((p) => p.name === 'dev')?.deploy.helm.releases as Obj[];
    assert.deepEqual(dev.map((r) => r.name), ['nats', 'roadmap-postgresql', 'roadmap']);
    assert.equal(dev[0]?.setValues['config.jetstream.enabled'], true);
    assert.ok(!JSON.stringify(config).includes('bitnami'), 'a Bitnami chart or image');
    const postgres = dev[1] as Obj;
    assert.equal(postgres.chartPath, 'deploy/dev/postgresql');
    // It renders valid objects, and its Service is where ci/default-values.yaml points.
    const objects = parseManifests(await helm('template', postgres.name, join(root, postgres.chartPath)));
    for (const o of objects) await validateAgainstModel(o);
    const service = objects.find((o) => o.kind === 'Service');
    assert.equal(service?.metadata.name, 'roadmap-postgresql');
    const url = String((parseYaml(await readFile(join(chart, 'ci', 'default-values.yaml'), 'utf8')) as Obj).database.url);
    assert.match(url, /@roadmap-postgresql:5432\/roadmap$/);
    const container = objects.find((o) => o.kind === 'StatefulSet')?.spec?.template.spec.containers[0] as Obj;
    assert.match(String(container.image), /^postgres:\d+/, 'the official postgres image');
  });
});
