import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { alertRules, chartDir, dashboardExpressions, dashboardFiles, ensurePrometheus, grafanaDir, type Rule } from './support.js';

describe('observability artifacts', () => {
  it('the chart carries exact copies of deploy/grafana dashboards (Helm reads no file outside the chart)', () => {
    const files = dashboardFiles();
    assert.ok(files.length >= 4, `dashboards: ${files.join(', ')}`);
    assert.deepEqual(dashboardFiles(join(chartDir, 'dashboards')), files);
    for (const file of files) {
      assert.equal(
        readFileSync(join(chartDir, 'dashboards', file), 'utf8'),
        readFileSync(join(grafanaDir, 'dashboards', file), 'utf8'),
        `${file} differs: copy deploy/grafana/dashboards/${file} into the chart`,
      );
    }
  });

  it('the chart rules are the rules of deploy/grafana/alerts.yaml', () => {
    const chartRules = parse(readFileSync(join(chartDir, 'rules', 'slo.yaml'), 'utf8')) as Rule[];
    assert.deepEqual(chartRules, alertRules());
  });

  it('every alert has a runbook_url annotation, every dashboard panel a query', () => {
    const alerts = alertRules().filter((r) => r.alert);
    assert.ok(alerts.length >= 9);
    for (const alert of alerts) assert.match(alert.annotations?.runbook_url ?? '', /^https?:\/\/\S+#\S+$/, `${alert.alert} has no runbook`);
    assert.ok(dashboardExpressions().length >= 30);
  });

  it('promtool check rules passes on alerts.yaml and on the chart rules wrapped in a group', () => {
    const { promtool } = ensurePrometheus();
    const dir = mkdtempSync(join(tmpdir(), 'rules-'));
    try {
      const chartRules = parse(readFileSync(join(chartDir, 'rules', 'slo.yaml'), 'utf8')) as Rule[];
      writeFileSync(join(dir, 'chart.yaml'), stringify({ groups: [{ name: 'chart', rules: chartRules }] }));
      for (const file of [join(grafanaDir, 'alerts.yaml'), join(dir, 'chart.yaml')]) {
        const result = spawnSync(promtool, ['check', 'rules', file], { encoding: 'utf8' });
        assert.equal(result.status, 0, `promtool check rules ${file}:\n${result.stdout}\n${result.stderr}`);
        assert.match(result.stdout, /SUCCESS/);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
