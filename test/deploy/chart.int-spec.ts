/*
 * Checks of the Helm chart (deploy/helm/roadmap): lint, every ci scenario and more rendered with the
 * project's own helm, each object validated against its Kubernetes model, then checked as a reviewer
 * would (test/deploy/scenario-checks.ts). No cluster is needed.
 */
import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isMap, isPair, isScalar, parse as parseYaml, parseDocument, type YAMLMap } from 'yaml';
import { checkScaledObjects, checkScenario } from './scenario-checks.js';
import {
  chart, component, configMapEnv, helm, helmFails, KEDA, named, of, parseManifests, podSpecs, PROMETHEUS, render, renderRelease,
  SERVICES, startHelm, stopHelm, subset, validateAgainstModel, type K8sObject, type Obj, type Scenario,
} from './support.js';

/** Helm allows release names up to 53 characters; every object name must still fit in 63. */
const LONGEST_RELEASE = 'a-release-name-of-the-longest-length-helm-allows-53ch';

// ---------------------------------------------------------------------------------------------

describe('Helm chart deploy/helm/roadmap', () => {
  const production = join(chart, 'ci', 'production-values.yaml');
  const development = join(chart, 'ci', 'default-values.yaml');
  let productionValues: Obj;
  let developmentValues: Obj;
  const scenarios = new Map<string, Scenario>();
  /** ci/<file>-values.yaml scenarios by name ("ci/nats-tls-values"), with their values. */
  const ciValues = new Map<string, Obj>();
  /** Every optional object at once, for the name checks. */
  const everything = ['-f', production, '--api-versions', KEDA, '--api-versions', PROMETHEUS, '--set', 'httpRoute.enabled=true', '--set', 'tests.apiKeySecret=api-key'];

  before(async () => {
    await startHelm();
    productionValues = parseYaml(await readFile(production, 'utf8')) as Obj;
    developmentValues = parseYaml(await readFile(development, 'utf8')) as Obj;
    const ciFiles = (await readdir(join(chart, 'ci'))).filter((f) => f.endsWith('-values.yaml')).sort();
    for (const file of ciFiles) ciValues.set(`ci/${file.replace(/\.yaml$/, '')}`, parseYaml(await readFile(join(chart, 'ci', file), 'utf8')) as Obj);
    const renders = await Promise.all([
      render('defaults'),
      render('defaults+keda', '--api-versions', KEDA),
      ...[...ciValues.keys()].map((name) => render(name, '-f', join(chart, `${name}.yaml`))),
      render('ci/production-values+keda+prometheus', '-f', production, '--api-versions', KEDA, '--api-versions', PROMETHEUS),
      render('production+hpa-mode', '-f', production, '--api-versions', KEDA, '--set', 'autoscaling.mode=hpa'),
      renderRelease(LONGEST_RELEASE, 'longest release name', ...everything),
      renderRelease('r'.repeat(36), '36-character release name', ...everything),
      renderRelease('r'.repeat(48), '48-character release name', ...everything),
      renderRelease(`${'r'.repeat(40)}-roadmap`, 'release name containing the chart name', ...everything),
    ]);
    for (const s of renders) scenarios.set(s.name, s);
  });
  after(stopHelm);
  const scenario = (name: string) => scenarios.get(name) as Scenario;

  it('passes helm lint --strict with the defaults and every ci scenario', async () => {
    await helm('lint', chart, '--strict');
    for (const name of ciValues.keys()) await helm('lint', chart, '--strict', '-f', join(chart, `${name}.yaml`));
  });

  it('has a ci scenario for every documented setup, each rendered, schema-validated and checked, and explained in the README', async () => {
    const names = [...ciValues.keys()];
    for (const setup of ['default', 'production', 'external-postgresql-ca', 'keda', 'httproute', 'nats-tls', 'nats-nkey', 'minimal']) {
      assert.ok(names.includes(`ci/${setup}-values`), `no ci/${setup}-values.yaml`);
    }
    const readme = await readFile(join(chart, 'README.md'), 'utf8');
    for (const name of names) {
      await checkScenario(scenario(name), ciValues.get(name) as Obj);
      assert.match(readme, new RegExp(`\\| \`${name}\\.yaml\` \\| \\S`), `the chart README's scenario table does not explain ${name}.yaml`);
    }
  });

  it('keeps every name within 63 characters and unique up to the longest release name (53 characters)', async () => {
    assert.equal(LONGEST_RELEASE.length, 53);
    for (const name of ['longest release name', '36-character release name', '48-character release name', 'release name containing the chart name']) {
      const s = scenario(name);
      await checkScenario(s, productionValues);
      checkScaledObjects(s, productionValues);
      assert.equal(of(s, 'ConfigMap').filter((c) => c.metadata.labels?.grafana_dashboard).length, 4, `${name}: four dashboards`);
      assert.equal(of(s, 'HTTPRoute').length, 1, `${name}: HTTPRoute`);
      for (const o of s.objects) assert.ok((o.metadata.labels?.['app.kubernetes.io/instance'] ?? '').length <= 63);
    }
    // Two long releases in one namespace share no object name.
    const other = await renderRelease(`${LONGEST_RELEASE.slice(0, 52)}b`, 'another long release', ...everything);
    const names = new Set(scenario('longest release name').objects.map((o) => `${o.kind}/${o.metadata.name}`));
    for (const o of other.objects) assert.ok(!names.has(`${o.kind}/${o.metadata.name}`), `both releases render ${o.kind}/${o.metadata.name}`);
    // A short release keeps the names it always had (no rename on upgrade).
    assert.ok(named(scenario('defaults'), 'Deployment', 'rm-roadmap-content-worker'));
    assert.ok(named(scenario('defaults'), 'Job', 'rm-roadmap-migrate'));
  });

  it('runs a new process as one more services entry: the same Deployment, ConfigMap, Service, PDB, policy and scaler', async () => {
    const webhook = {
      enabled: true,
      port: 3004,
      concurrency: 4,
      llm: false,
      consumers: [{ stream: 'EVENTS', durable: 'webhook-worker' }],
      image: { repository: 'registry.example.com/roadmap/gateway', tag: '1.0.0' },
      args: ['--enable-source-maps', 'services/gateway/dist/src/webhooks.js'],
      resources: { requests: { cpu: '50m', memory: '128Mi' }, limits: { cpu: '500m', memory: '256Mi' } },
      autoscaling: { enabled: true, minReplicas: 1, maxReplicas: 3, lagThreshold: 10 },
    };
    const s = await render('new process', '--set-json', `services.webhookWorker=${JSON.stringify(webhook)}`, '--api-versions', KEDA);
    const mine = (kind: string) => s.objects.filter((o) => o.kind === kind && component(o) === 'webhook-worker');
    for (const kind of ['Deployment', 'ConfigMap', 'Service', 'PodDisruptionBudget', 'NetworkPolicy', 'ScaledObject']) {
      assert.equal(mine(kind).length, 1, `one ${kind} for the new process`);
    }
    for (const o of s.objects) await validateAgainstModel(o);
    const container = mine('Deployment')[0]?.spec?.template.spec.containers[0] as Obj;
    assert.deepEqual(container.args, webhook.args);
    assert.equal(container.image, 'registry.example.com/roadmap/gateway:1.0.0');
    assert.equal(configMapEnv(s, mine('Deployment')[0] as K8sObject).PORT, '3004');
    assert.equal(mine('ScaledObject')[0]?.spec?.triggers[0].metadata.consumer, 'webhook-worker');
  });

  it('mounts a database CA, NATS TLS files and an NKey seed from Secrets into every service and the hook Job', () => {
    const expectations: Array<[string, Record<string, string>]> = [
      ['ci/external-postgresql-ca-values', { NODE_EXTRA_CA_CERTS: 'pg-ca' }],
      ['ci/nats-tls-values', { NATS_TLS_CA_FILE: 'roadmap-nats-client-tls', NATS_TLS_CERT_FILE: 'roadmap-nats-client-tls', NATS_TLS_KEY_FILE: 'roadmap-nats-client-tls' }],
      ['ci/nats-nkey-values', { NATS_NKEY_SEED_FILE: 'roadmap-nats-nkey' }],
    ];
    for (const [name, wanted] of expectations) {
      const s = scenario(name);
      const owners = podSpecs(s).filter(({ owner }) => owner.kind !== 'Pod');
      assert.equal(owners.length, 6, `${name}: five Deployments and the Job`);
      for (const { owner, pod, containers } of owners) {
        for (const c of containers) {
          for (const [variable, secret] of Object.entries(wanted)) {
            const path = (c.env as Obj[]).find((e) => e.name === variable)?.value as string | undefined;
            assert.ok(path, `${name}: ${owner.metadata.name}/${c.name} has no ${variable}`);
            const mount = (c.volumeMounts as Obj[]).find((m) => path.startsWith(`${m.mountPath}/`)) as Obj;
            assert.equal((pod.volumes as Obj[]).find((v) => v.name === mount.name)?.secret?.secretName, secret, `${name}: ${variable} Secret`);
          }
        }
      }
    }
    assert.equal(of(scenario('defaults'), 'Deployment')[0]?.spec?.template.spec.containers[0].env.some((e: Obj) => e.name.endsWith('_FILE')), false);
  });

  it('accepts *_FILE paths in config.extraEnv and refuses two NATS credentials files', async () => {
    const s = await render('extraEnv file', '--set', 'config.extraEnv.NATS_TLS_KEY_FILE=/etc/custom/key.pem');
    assert.equal(configMapEnv(s, of(s, 'Deployment')[0] as K8sObject).NATS_TLS_KEY_FILE, '/etc/custom/key.pem');
    assert.match(await helmFails('template', 'rm', chart, '--set', 'nats.auth.nkeySecret=a', '--set', 'nats.auth.credsSecret=b'), /one of nats\.auth\.nkeySecret/);
  });

  it('has Chart.yaml metadata (icon, home, sources) and upgrade notes', async () => {
    const meta = parseYaml(await readFile(join(chart, 'Chart.yaml'), 'utf8')) as Obj;
    assert.match(String(meta.icon), /^https:\/\//);
    assert.match(String(meta.home), /^https:\/\//);
    assert.ok(Array.isArray(meta.sources) && meta.sources.length > 0);
    const upgrading = await readFile(join(chart, 'UPGRADING.md'), 'utf8');
    assert.match(upgrading, new RegExp(`## ${String(meta.version).replace(/\./g, '\\.')}`), 'UPGRADING.md has a section for the current chart version');
  });

  it('renders valid objects that pass every check, with the chart defaults', async () => {
    await checkScenario(scenario('defaults'), {});
  });

  it('renders valid objects that pass every check, with ci/default-values.yaml', async () => {
    await checkScenario(scenario('ci/default-values'), developmentValues);
    assert.equal(of(scenario('ci/default-values'), 'HorizontalPodAutoscaler').length, 0, 'autoscaling.mode none');
  });

  it('renders valid objects that pass every check, with ci/production-values.yaml', async () => {
    for (const name of ['ci/production-values', 'ci/production-values+keda+prometheus', 'production+hpa-mode']) {
      await checkScenario(scenario(name), productionValues);
    }
    assert.equal(of(scenario('ci/production-values'), 'Ingress').length, 1);
  });

  it('scales each worker with a KEDA ScaledObject on its own stream and consumers when keda.sh/v1alpha1 is served', () => {
    checkScaledObjects(scenario('defaults+keda'), {});
    checkScaledObjects(scenario('ci/production-values+keda+prometheus'), productionValues);
    // The gateway keeps its CPU HPA.
    assert.ok(of(scenario('defaults+keda'), 'HorizontalPodAutoscaler').some((h) => component(h) === 'gateway'));
  });

  it('falls back to HPAs for the workers when KEDA is absent or autoscaling.mode is hpa', () => {
    for (const name of ['defaults', 'ci/production-values', 'production+hpa-mode']) {
      const s = scenario(name);
      assert.equal(of(s, 'ScaledObject').length, 0, `${name}: ScaledObjects`);
      assert.deepEqual(of(s, 'HorizontalPodAutoscaler').map(component).sort(), [...SERVICES].sort(), `${name}: an HPA per service`);
    }
  });

  it('renders monitoring.coreos.com objects only when the API is served (or forced), and dashboards and rules from the chart files', async () => {
    for (const name of ['defaults', 'ci/production-values', 'defaults+keda']) {
      assert.equal(scenario(name).objects.filter((o) => o.apiVersion === PROMETHEUS).length, 0, name);
    }
    const withApi = scenario('ci/production-values+keda+prometheus');
    const [monitor] = of(withApi, 'ServiceMonitor');
    assert.ok(monitor, 'ServiceMonitor with the Prometheus Operator API');
    for (const service of of(withApi, 'Service')) {
      assert.ok(subset(monitor.spec?.selector.matchLabels, service.metadata.labels), `ServiceMonitor does not select Service ${service.metadata.name}`);
      assert.ok(service.spec?.ports.some((p: Obj) => p.name === monitor.spec?.endpoints[0].port));
    }
    assert.equal(monitor.spec?.endpoints[0].path, '/metrics');
    assert.deepEqual(
      (monitor.spec?.endpoints[0].relabelings as Obj[]).find((r) => r.targetLabel === 'release')?.sourceLabels,
      ['__meta_kubernetes_service_label_app_kubernetes_io_instance'],
      'series carry the release label the dashboards and rules select on',
    );
    // Dashboards select by datasource, namespace, release and job variables, never a fixed job.
    for (const cm of of(withApi, 'ConfigMap').filter((c) => c.metadata.labels?.grafana_dashboard)) {
      for (const [file, json] of Object.entries(cm.data ?? {})) {
        const dashboard = JSON.parse(json) as { templating: { list: Array<{ name: string }> }; panels: Array<{ targets?: Array<{ expr?: string }> }> };
        assert.deepEqual(dashboard.templating.list.map((v) => v.name), ['datasource', 'namespace', 'release', 'job'], `${file}: variables`);
        for (const expr of dashboard.panels.flatMap((p) => p.targets ?? []).flatMap((t) => (t.expr ? [t.expr] : []))) {
          assert.ok(!/job="/.test(expr), `${file}: a fixed job in ${expr}`);
          for (const selector of expr.match(/roadmap[_:][a-z0-9_:]+\{[^}]*\}|roadmap[_:][a-z0-9_:]+(?![a-z0-9_:{])/g) ?? []) {
            assert.ok(selector.includes('namespace=~"$namespace",release=~"$release"'), `${file}: ${selector} is not filtered by namespace and release`);
          }
        }
      }
    }
    const [shipped] = of(withApi, 'PrometheusRule');
    assert.ok(shipped, 'the chart ships the SLO rules (rules/slo.yaml) as a PrometheusRule');
    const shippedRules = (shipped.spec?.groups as Obj[]).flatMap((g) => g.rules as Obj[]);
    assert.ok(shippedRules.some((r) => r.alert && /burn/i.test(String(r.alert))), 'burn-rate alerts are among them');
    assert.ok(shippedRules.filter((r) => r.alert).every((r) => r.annotations?.runbook_url), 'every alert has a runbook_url');

    // A copy of the chart with a dashboard and a rules file, plus a rule from values.
    const copy = await mkdtemp(join(tmpdir(), 'roadmap-chart-'));
    try {
      await cp(chart, copy, { recursive: true });
      await mkdir(join(copy, 'dashboards'), { recursive: true });
      await writeFile(join(copy, 'dashboards', 'roadmap-overview.json'), JSON.stringify({ title: 'Roadmap overview', panels: [] }));
      await writeFile(join(copy, 'rules', 'platform.yaml'), '- alert: RoadmapDeadLetters\n  expr: increase(roadmap_dead_letters_total[10m]) > 0\n');
      const text = await helm(
        'template', 'rm', copy, '--set', 'monitoring.enabled=true',
        '--set-json', 'monitoring.prometheusRule.rules=[{"record":"roadmap:up","expr":"up{job=\\"gateway\\"}"}]',
      );
      const s = { name: 'monitoring files', objects: parseManifests(text), text };
      for (const o of s.objects) await validateAgainstModel(o);
      const [rule] = of(s, 'PrometheusRule');
      const rules = (rule?.spec?.groups as Obj[]).flatMap((g) => g.rules as Obj[]);
      const names = rules.map((r) => r.record ?? r.alert);
      assert.ok(names.includes('RoadmapDeadLetters') && names.includes('roadmap:up'), 'rules from files and from values');
      const dashboards = of(s, 'ConfigMap').filter((c) => c.metadata.labels?.grafana_dashboard === '1');
      assert.equal(dashboards.length, 5, 'the four shipped dashboards and the added one');
      const added = dashboards.find((d) => d.data?.['roadmap-overview.json']);
      assert.deepEqual(JSON.parse(added?.data?.['roadmap-overview.json'] ?? ''), { title: 'Roadmap overview', panels: [] });
    } finally {
      await rm(copy, { recursive: true, force: true });
    }
  });

  it('keeps secret values out of ConfigMaps and literal env values: they travel in Secrets only', async () => {
    const secrets = {
      'database.url': 'postgres://roadmap:db-pa55word-7f3e@pg.example:5432/roadmap',
      'llm.apiKey': 'sk-test-1f2e3d4c5b6a',
      'nats.auth.user': 'roadmap-nats-user',
      'nats.auth.password': 'nats-pa55word-91ab',
    };
    const set = Object.entries(secrets).flatMap(([k, v]) => ['--set-string', `${k}=${v}`]);
    const scenarios = [
      await render('inline secrets', ...set, '--set', 'llm.provider=openai'),
      scenario('ci/default-values'),
    ];
    const known = [...Object.values(secrets), String(developmentValues.database.url), 'roadmap-dev-password'];
    for (const s of scenarios) {
      await checkScenario(s, s.name === 'ci/default-values' ? developmentValues : {});
      for (const o of s.objects) {
        if (o.kind === 'Secret') continue;
        const text = JSON.stringify(o);
        for (const value of known) assert.ok(!text.includes(value), `${s.name}: ${o.kind}/${o.metadata.name} contains a secret value`);
      }
      // In Secrets they are base64 data, never stringData.
      for (const secret of of(s, 'Secret')) assert.equal(secret.stringData, undefined);
    }
    // Every workload reads DATABASE_URL (and the LLM workers LLM_API_KEY) from a Secret the release or a hook renders.
    const s = scenarios[0] as Scenario;
    for (const { owner, containers } of podSpecs(s).filter((p) => p.owner.kind !== 'Pod')) {
      for (const c of containers) {
        const byName = new Map((c.env as Obj[]).map((e) => [e.name, e]));
        const url = byName.get('DATABASE_URL');
        assert.ok(url?.valueFrom?.secretKeyRef, `${owner.metadata.name}/${c.name}: DATABASE_URL`);
        const secret = named(s, 'Secret', url.valueFrom.secretKeyRef.name);
        assert.equal(Buffer.from(secret?.data?.DATABASE_URL ?? '', 'base64').toString(), secrets['database.url']);
        assert.equal(byName.has('LLM_API_KEY'), ['workflow-worker', 'content-worker'].includes(component(owner)), `${owner.metadata.name}: LLM_API_KEY`);
        assert.ok(byName.get('NATS_PASSWORD')?.valueFrom?.secretKeyRef, `${owner.metadata.name}: NATS_PASSWORD`);
      }
    }
    // Names that look secret are refused in the ConfigMap-bound maps.
    assert.match(await helmFails('template', 'rm', chart, '--set', 'config.extraEnv.DB_PASSWORD=x'), /looks like a secret/);
    assert.match(await helmFails('template', 'rm', chart, '--set', 'llm.provider=openai'), /llm\.existingSecret/);
    assert.match(await helmFails('template', 'rm', chart, '--set', 'database.existingSecret='), /database\.existingSecret/);
  });

  it('rolls pods on a configuration change (checksum/config) and only the pods whose config changed', async () => {
    const before = scenario('defaults');
    const after = await render('changed', '--set', 'services.contentWorker.concurrency=8');
    const checksum = (s: Scenario, name: string) =>
      of(s, 'Deployment').find((d) => component(d) === name)?.spec?.template.metadata.annotations['checksum/config'];
    assert.notEqual(checksum(after, 'content-worker'), checksum(before, 'content-worker'));
    assert.equal(checksum(after, 'gateway'), checksum(before, 'gateway'));
  });

  it('sends traces only when tracing.otlpEndpoint is set: OTEL variables for every service and egress to the collector', () => {
    const otel = (env: Record<string, string>) => Object.keys(env).filter((k) => k.startsWith('OTEL_'));
    const collectorPorts = (s: Scenario, d: K8sObject) =>
      (of(s, 'NetworkPolicy').find((n) => component(n) === component(d))?.spec?.egress as Obj[]).flatMap((rule) =>
        (rule.ports as Obj[]).map((p) => p.port).filter((port) => port === 4318 || port === 4317),
      );
    const defaults = scenario('defaults');
    for (const d of of(defaults, 'Deployment')) {
      assert.deepEqual(otel(configMapEnv(defaults, d)), [], `${d.metadata.name}: tracing is off by default`);
      assert.deepEqual(collectorPorts(defaults, d), [], `${d.metadata.name}: no egress to a collector by default`);
    }
    const production = scenario('ci/production-values');
    const deployments = of(production, 'Deployment');
    assert.equal(deployments.length, SERVICES.length);
    for (const d of deployments) {
      const env = configMapEnv(production, d);
      assert.equal(env.OTEL_EXPORTER_OTLP_ENDPOINT, productionValues.tracing.otlpEndpoint, d.metadata.name);
      assert.equal(env.OTEL_EXPORTER_OTLP_PROTOCOL, 'http/protobuf');
      assert.equal(env.OTEL_TRACES_SAMPLER, 'parentbased_traceidratio');
      assert.equal(env.OTEL_TRACES_SAMPLER_ARG, '0.2');
      assert.equal(env.OTEL_RESOURCE_ATTRIBUTES, 'deployment.environment.name=production');
      // Each service names itself (service.name = gateway, workflow-worker, ...): the chart must not override it.
      assert.equal(env.OTEL_SERVICE_NAME, undefined);
      assert.deepEqual(collectorPorts(production, d), [4318], `${d.metadata.name}: egress to the collector`);
    }
  });

  it('rejects values its schema does not allow', async () => {
    assert.match(await helmFails('template', 'rm', chart, '--set', 'autoscaling.mode=sometimes'), /autoscaling\/mode/);
    assert.match(await helmFails('template', 'rm', chart, '--set', 'services.gateway.replicas=2'), /additional properties/);
    assert.match(await helmFails('template', 'rm', chart, '--set', 'nats.url=http://nats:4222'), /nats\/url/);
    assert.match(await helmFails('template', 'rm', chart, '--set', 'tracing.protocol=udp'), /tracing\/protocol/);
  });

  it('documents every value in values.yaml and lists it in the chart README', async () => {
    const source = await readFile(join(chart, 'values.yaml'), 'utf8');
    const readme = await readFile(join(chart, 'README.md'), 'utf8');
    const doc = parseDocument(source);
    const undocumented: string[] = [];
    const unlisted: string[] = [];
    const walk = (map: YAMLMap, path: string[], documented: boolean) => {
      map.items.forEach((pair, index) => {
        if (!isPair(pair) || !isScalar(pair.key)) return;
        const key = String(pair.key.value);
        const here = [...path, key];
        const comment = pair.key.commentBefore ?? (index === 0 ? map.commentBefore : undefined);
        // The "# --" paragraph right above the key (a file header may precede it after a blank line).
        const ownDoc = Boolean(comment?.split(/\n\s*\n/).pop()?.trim().startsWith('--'));
        if (isMap(pair.value) && pair.value.items.length > 0) {
          walk(pair.value, here, documented || ownDoc);
          return;
        }
        if (!documented && !ownDoc) undocumented.push(here.join('.'));
        if (!readme.includes(`\`${here.join('.')}\``)) unlisted.push(here.join('.'));
      });
    };
    assert.ok(isMap(doc.contents));
    walk(doc.contents as YAMLMap, [], false);
    assert.deepEqual(undocumented, [], 'values without a "# --" comment (on them or on the object they belong to)');
    assert.deepEqual(unlisted, [], 'values missing from the chart README');
  });
});
