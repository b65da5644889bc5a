import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

// Compiled to dist/test/observability/: the repository root is three folders up.
export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const grafanaDir = join(root, 'deploy', 'grafana');
export const chartDir = join(root, 'deploy', 'helm', 'roadmap');

export interface Rule {
  readonly alert?: string;
  readonly record?: string;
  readonly expr: string;
  readonly annotations?: Record<string, string>;
}

/** The rules of deploy/grafana/alerts.yaml, every group flattened. */
export function alertRules(): Rule[] {
  const doc = parse(readFileSync(join(grafanaDir, 'alerts.yaml'), 'utf8')) as { groups: Array<{ rules: Rule[] }> };
  return doc.groups.flatMap((g) => g.rules);
}

export function dashboardFiles(dir = join(grafanaDir, 'dashboards')): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort();
}

/** Every PromQL expression of every dashboard panel, with where it comes from. */
export function dashboardExpressions(): Array<{ where: string; expr: string }> {
  const out: Array<{ where: string; expr: string }> = [];
  for (const file of dashboardFiles()) {
    const dashboard = JSON.parse(readFileSync(join(grafanaDir, 'dashboards', file), 'utf8')) as {
      panels: Array<{ title: string; targets?: Array<{ expr?: string; refId: string }> }>;
      templating: { list: Array<{ name: string; allValue?: string }> };
    };
    // Template variables ($namespace, $release, $job) at their "All" value, as Grafana sends them.
    const variables = dashboard.templating.list.filter((v) => v.allValue !== undefined);
    const expand = (expr: string) => variables.reduce((e, v) => e.replaceAll(`$${v.name}`, v.allValue as string), expr);
    for (const panel of dashboard.panels) {
      for (const target of panel.targets ?? []) {
        if (target.expr) out.push({ where: `${file} / ${panel.title} / ${target.refId}`, expr: expand(target.expr) });
      }
    }
  }
  return out;
}

/**
 * An alert's condition as a query that always returns its operands: `a > x and b > y` becomes
 * `a > bool x and b > bool y` (0 or 1 instead of nothing while the alert does not fire).
 */
export function alwaysReturning(expr: string): string {
  return expr.replace(/\s(>=|<=|>|<|==)\s+(?!bool\b)/g, ' $1 bool ');
}

/** Debian's prometheus package ships prometheus and promtool; installs it when missing (CI images). */
export function ensurePrometheus(): { prometheus: string; promtool: string } {
  const which = (bin: string) => spawnSync('sh', ['-c', `command -v ${bin}`], { encoding: 'utf8' }).stdout.trim();
  if (!which('prometheus') || !which('promtool')) {
    spawnSync('sh', ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus'], { stdio: 'ignore' });
    // The package may start a daemon on :9090; the tests run their own on a free port.
    spawnSync('sh', ['-c', '(systemctl stop prometheus; systemctl disable prometheus; service prometheus stop) >/dev/null 2>&1 || true']);
  }
  const prometheus = which('prometheus');
  const promtool = which('promtool');
  if (!prometheus || !promtool) throw new Error('prometheus/promtool not found and `apt-get install prometheus` failed');
  return { prometheus, promtool };
}
