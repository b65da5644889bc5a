/*
 * The alerts are tested like code: deploy/grafana/alerts.test.yaml gives every alert of
 * deploy/grafana/alerts.yaml a synthetic series it must fire on and a healthy one it must stay quiet
 * on, and `promtool test rules` (Debian's prometheus package; .ci/run installs it) runs them, on the
 * Grafana copy and on the chart's rules/slo.yaml alike.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const grafana = join(root, 'deploy', 'grafana');

interface RuleTest {
  readonly alertname: string;
  readonly exp_alerts?: readonly unknown[];
}

const promtool = spawnSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' }).stdout.trim();
// In CI a missing promtool is a failure (the alerts would go untested); on a workstation without
// it the promtool cases are skipped with the way to get it.
const skip = promtool === '' && process.env.CI !== 'true' ? 'promtool is not installed (apt-get install prometheus; .ci/run installs it)' : false;

function runPromtool(dir: string): void {
  assert.ok(promtool, 'promtool is not installed: CI must install it (.ci/run: apt-get install prometheus)');
  const result = spawnSync(promtool, ['test', 'rules', 'alerts.test.yaml'], { cwd: dir, encoding: 'utf8' });
  assert.equal(result.status, 0, `promtool test rules:\n${result.stdout}\n${result.stderr}`);
  assert.match(result.stdout, /SUCCESS/);
}

describe('alert unit tests (promtool test rules)', () => {
  it('give every alert a case where it fires and one where it stays quiet', () => {
    const alerts = (parse(readFileSync(join(grafana, 'alerts.yaml'), 'utf8')) as { groups: Array<{ rules: Array<{ alert?: string }> }> }).groups
      .flatMap((g) => g.rules)
      .flatMap((r) => (r.alert ? [r.alert] : []));
    assert.ok(alerts.length >= 13, `alerts: ${alerts.join(', ')}`);
    const cases = (parse(readFileSync(join(grafana, 'alerts.test.yaml'), 'utf8')) as { tests: Array<{ alert_rule_test: RuleTest[] }> }).tests.flatMap(
      (t) => t.alert_rule_test,
    );
    for (const alert of alerts) {
      const mine = cases.filter((c) => c.alertname === alert);
      assert.ok(mine.some((c) => (c.exp_alerts ?? []).length > 0), `${alert}: no case where it fires`);
      assert.ok(mine.some((c) => (c.exp_alerts ?? []).length === 0), `${alert}: no case where it stays quiet`);
    }
  });

  it('pass on deploy/grafana/alerts.yaml', { skip }, () => {
    runPromtool(grafana);
  });

  it("pass on the chart's rules/slo.yaml (what the PrometheusRule carries)", { skip }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'roadmap-rules-'));
    try {
      const rules = parse(readFileSync(join(root, 'deploy', 'helm', 'roadmap', 'rules', 'slo.yaml'), 'utf8')) as unknown[];
      writeFileSync(join(dir, 'alerts.yaml'), stringify({ groups: [{ name: 'chart', rules }] }));
      copyFileSync(join(grafana, 'alerts.test.yaml'), join(dir, 'alerts.test.yaml'));
      runPromtool(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
