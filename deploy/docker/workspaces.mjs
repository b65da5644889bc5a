#!/usr/bin/env node
// Prints the workspace folders one service needs at run time, one a line: the service, the
// @roadmap/* libs it depends on (transitively, `dependencies` only), and apps/console for the
// gateway (it serves the console's built files). The image build copies exactly their compiled
// code. Zero dependencies.
//   node deploy/docker/workspaces.mjs gateway          the folders, one a line
//   node deploy/docker/workspaces.mjs --port gateway   its default PORT (the image's EXPOSE)
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** @returns {string[]} workspace folders relative to `root`, the service first. */
export function runtimeWorkspaces(root, service) {
  const start = join('services', service);
  if (!existsSync(join(root, start, 'package.json'))) throw new Error(`no service ${service} (${start}/package.json)`);
  const seen = [];
  const visit = (dir) => {
    if (seen.includes(dir)) return;
    seen.push(dir);
    const manifest = JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8'));
    for (const dep of Object.keys(manifest.dependencies ?? {})) {
      if (dep.startsWith('@roadmap/')) visit(join('libs', dep.slice('@roadmap/'.length)));
    }
  };
  visit(start);
  if (service === 'gateway') seen.push(join('apps', 'console'));
  return seen;
}

/** The service's default PORT, read from its config schema (`PORT: env.int(<default>, ...)`). */
export function defaultPort(root, service) {
  const source = readFileSync(join(root, 'services', service, 'src', 'config.ts'), 'utf8');
  const port = /\bPORT: env\.int\((\d+)/.exec(source)?.[1];
  if (!port) throw new Error(`services/${service}/src/config.ts declares no PORT default`);
  return Number(port);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const service = args.find((a) => !a.startsWith('--'));
  if (!service) {
    console.error('usage: node deploy/docker/workspaces.mjs [--port] <service>');
    process.exit(2);
  }
  console.log(args.includes('--port') ? defaultPort(process.cwd(), service) : runtimeWorkspaces(process.cwd(), service).join('\n'));
}
