/*
 * The checks every rendered scenario of the chart gets (what a reviewer of a chart would look for),
 * and those of the KEDA ScaledObjects.
 */
import assert from 'node:assert/strict';
import { CONSUMERS } from '@roadmap/contracts';
import { component, configMapEnv, isHook, named, of, podSpecs, SERVICES, subset, validateAgainstModel, type K8sObject, type Obj, type Scenario } from './support.js';

const WORKER_STREAMS: Record<string, string> = { 'workflow-worker': 'ROADMAP_WORKFLOW', 'content-worker': 'CONTENT_GENERATION', 'log-sink': 'LOGS', 'webhook-worker': 'WEBHOOKS' };
export const SECRET_NAME = /(^DATABASE_URL$|KEY|SECRET|PASSWORD|TOKEN|CREDENTIALS)/;
/** A secret-looking name that holds a secret (not a *_FILE path to one, such as NATS_TLS_KEY_FILE). */
export const isSecretName = (name: string) => SECRET_NAME.test(name) && !name.endsWith('_FILE');

/** `e` (a *_FILE path or NODE_EXTRA_CA_CERTS) names a key of a Secret volume mounted read-only in `c`. */
function assertMountedSecretFile(at: string, e: Obj, c: Obj, pod: Obj): void {
  assert.equal(e.valueFrom, undefined, `${at}: ${e.name} is a path, given as a value`);
  const mount = (c.volumeMounts as Obj[]).find((m) => String(e.value).startsWith(`${m.mountPath}/`));
  assert.ok(mount?.readOnly, `${at}: ${e.name}=${e.value} is not in a read-only mount`);
  const volume = (pod.volumes as Obj[]).find((v) => v.name === mount.name);
  const file = String(e.value).slice(String(mount.mountPath).length + 1);
  assert.ok(volume?.secret?.items?.some((i: Obj) => i.path === file), `${at}: ${e.name}: no Secret item ${file} in volume ${mount.name}`);
}

function preStopSeconds(container: Obj): number {
  const preStop = container.lifecycle?.preStop as Obj | undefined;
  assert.ok(preStop, `${container.name}: no preStop hook`);
  if (preStop.sleep) return Number(preStop.sleep.seconds);
  const command = preStop.exec?.command as string[];
  assert.equal(command?.[0], 'sleep', `${container.name}: preStop is not a sleep`);
  return Number(command[1]);
}

// ---------------------------------------------------------------------------------------------
// Checks every scenario gets.

export async function checkScenario(s: Scenario, values: Obj): Promise<void> {
  assert.ok(s.objects.length > 0, `${s.name}: nothing rendered`);
  for (const o of s.objects) await validateAgainstModel(o);

  // Labels: the recommended app.kubernetes.io set, with the component, on every object.
  for (const o of s.objects) {
    for (const label of ['app.kubernetes.io/name', 'app.kubernetes.io/instance', 'app.kubernetes.io/managed-by', 'app.kubernetes.io/part-of', 'app.kubernetes.io/component', 'helm.sh/chart']) {
      assert.ok(o.metadata.labels?.[label], `${s.name}: ${o.kind}/${o.metadata.name} has no label ${label}`);
    }
  }

  // One Deployment per service, from the same template, each with its own ConfigMap, Service, PDB, policy.
  const deployments = of(s, 'Deployment');
  assert.deepEqual(deployments.map(component).sort(), [...SERVICES].sort(), `${s.name}: Deployments`);

  for (const { owner, pod, containers } of podSpecs(s)) {
    const where = `${s.name}: ${owner.kind}/${owner.metadata.name}`;
    assert.equal(pod.automountServiceAccountToken, false, `${where}: mounts an API token`);
    const tmpVolumes = new Set((pod.volumes ?? []).filter((v: Obj) => v.emptyDir).map((v: Obj) => v.name));
    for (const c of containers) {
      const at = `${where} container ${c.name}`;
      // Requests and limits.
      for (const kind of ['requests', 'limits']) {
        for (const resource of ['cpu', 'memory']) assert.ok(c.resources?.[kind]?.[resource], `${at}: no ${kind}.${resource}`);
      }
      // The restricted Pod Security Standard, container by container.
      const sc = c.securityContext ?? {};
      assert.equal(sc.runAsNonRoot ?? pod.securityContext?.runAsNonRoot, true, `${at}: runAsNonRoot`);
      assert.notEqual(sc.runAsUser ?? pod.securityContext?.runAsUser, 0, `${at}: runs as uid 0`);
      assert.equal(sc.allowPrivilegeEscalation, false, `${at}: allowPrivilegeEscalation`);
      assert.equal(sc.readOnlyRootFilesystem, true, `${at}: readOnlyRootFilesystem`);
      assert.ok(sc.capabilities?.drop?.includes('ALL'), `${at}: capabilities.drop ALL`);
      assert.ok(!sc.capabilities?.add?.length, `${at}: adds capabilities`);
      assert.notEqual(sc.privileged, true, `${at}: privileged`);
      assert.equal((sc.seccompProfile ?? pod.securityContext?.seccompProfile)?.type, 'RuntimeDefault', `${at}: seccompProfile`);
      // A writable /tmp on a read-only root filesystem.
      const tmp = (c.volumeMounts ?? []).find((m: Obj) => m.mountPath === '/tmp');
      assert.ok(tmp && tmpVolumes.has(tmp.name), `${at}: no emptyDir at /tmp`);
      // Secrets only by reference.
      for (const e of c.env ?? []) {
        if (isSecretName(e.name)) assert.ok(e.valueFrom?.secretKeyRef && e.value === undefined, `${at}: ${e.name} is not a secretKeyRef`);
        // A *_FILE variable names a file of a Secret volume mounted in this container.
        if (e.name.endsWith('_FILE') || e.name === 'NODE_EXTRA_CA_CERTS') assertMountedSecretFile(at, e, c, pod);
      }
      assert.ok(c.image && !String(c.image).endsWith(':latest'), `${at}: image ${c.image}`);
    }
  }

  for (const d of deployments) {
    const name = component(d);
    const where = `${s.name}: Deployment ${d.metadata.name}`;
    const pod = d.spec?.template.spec as Obj;
    assert.ok(subset(d.spec?.selector.matchLabels, d.spec?.template.metadata.labels), `${where}: selector does not match its pods`);
    assert.ok(d.spec?.template.metadata.annotations?.['checksum/config'], `${where}: no checksum/config annotation (pods would not roll on a config change)`);
    assert.equal(pod.containers.length, 1, `${where}: one container`);
    const c = pod.containers[0] as Obj;
    assert.equal(c.livenessProbe?.httpGet?.path, '/healthz', `${where}: liveness probe`);
    assert.equal(c.readinessProbe?.httpGet?.path, '/readyz', `${where}: readiness probe`);
    assert.ok(c.startupProbe?.httpGet, `${where}: startup probe`);
    const env = configMapEnv(s, d);
    // The port the process listens on is the one the probes, Service and policies use.
    const port = c.ports.find((p: Obj) => p.name === 'http')?.containerPort;
    assert.equal(env.PORT, String(port), `${where}: PORT vs containerPort`);
    // Graceful shutdown: the kubelet waits for the preStop sleep plus SHUTDOWN_GRACE_MS and more.
    const graceSeconds = Number(env.SHUTDOWN_GRACE_MS ?? 20000) / 1000;
    assert.ok(
      pod.terminationGracePeriodSeconds > graceSeconds + preStopSeconds(c),
      `${where}: terminationGracePeriodSeconds ${pod.terminationGracePeriodSeconds} <= preStop + SHUTDOWN_GRACE_MS/1000 (${graceSeconds})`,
    );
    if (name !== 'gateway') {
      const key = name.replace(/-(\w)/g, (_m, ch: string) => ch.toUpperCase());
      assert.equal(env.WORKER_CONCURRENCY, String(values.services?.[key]?.concurrency ?? env.WORKER_CONCURRENCY), `${where}: WORKER_CONCURRENCY`);
      assert.ok(Number(env.WORKER_CONCURRENCY) >= 1, `${where}: WORKER_CONCURRENCY missing`);
    }
    // Service, PDB and NetworkPolicy of the component select its pods.
    const podLabels = d.spec?.template.metadata.labels as Record<string, string>;
    const service = of(s, 'Service').find((o) => component(o) === name);
    assert.ok(service && subset(service.spec?.selector, podLabels), `${where}: no Service selecting it`);
    assert.equal(service.spec?.ports[0].targetPort, 'http', `${where}: Service targetPort`);
    if (values.podDisruptionBudget?.enabled !== false) {
      const pdb = of(s, 'PodDisruptionBudget').find((o) => component(o) === name);
      assert.ok(pdb && subset(pdb.spec?.selector.matchLabels, podLabels), `${where}: no PodDisruptionBudget`);
    }
    if (values.networkPolicy?.enabled === false) {
      assert.equal(of(s, 'NetworkPolicy').length, 0, `${where}: networkPolicy.enabled false still renders policies`);
    } else {
      const policy = of(s, 'NetworkPolicy').find((o) => component(o) === name);
      assert.ok(policy && subset(policy.spec?.podSelector.matchLabels, podLabels), `${where}: no NetworkPolicy`);
      const ingressPorts = (policy.spec?.ingress as Obj[]).flatMap((r) => r.ports.map((p: Obj) => p.port));
      assert.deepEqual([...new Set(ingressPorts)], [port], `${where}: NetworkPolicy ingress other than its own port`);
      const egressPorts = new Set((policy.spec?.egress as Obj[]).flatMap((r) => r.ports.map((p: Obj) => p.port)));
      for (const needed of [53, 4222, 5432]) assert.ok(egressPorts.has(needed), `${where}: no egress on ${needed}`);
      // 443 leaves the cluster: to the LLM endpoint (the LLM workers) or to webhook endpoints (the webhook worker), nowhere else.
      assert.equal(egressPorts.has(443), name === 'workflow-worker' || name === 'content-worker' || name === 'webhook-worker', `${where}: public egress only for the LLM workers and the webhook worker`);
    }

    // Scaling: fixed replicas, or one autoscaler (never an HPA and a ScaledObject on the same Deployment).
    const hpa = of(s, 'HorizontalPodAutoscaler').filter((o) => o.spec?.scaleTargetRef.name === d.metadata.name);
    const scaled = of(s, 'ScaledObject').filter((o) => o.spec?.scaleTargetRef.name === d.metadata.name);
    assert.ok(hpa.length + scaled.length <= 1, `${where}: several autoscalers`);
    assert.equal(d.spec?.replicas === undefined, hpa.length + scaled.length === 1, `${where}: replicas must be left to its autoscaler, and only then`);
  }

  // ConfigMaps: no secret names, no secret values (checked with known values in their own test).
  for (const cm of of(s, 'ConfigMap')) {
    for (const key of Object.keys(cm.data ?? {})) assert.ok(!isSecretName(key) || cm.metadata.labels?.grafana_dashboard, `${s.name}: ConfigMap ${cm.metadata.name} holds ${key}`);
  }

  // The migration + provisioning hook.
  const jobs = of(s, 'Job');
  assert.equal(jobs.length, 1, `${s.name}: one hook Job`);
  const job = jobs[0] as K8sObject;
  const hooks = (job.metadata.annotations?.['helm.sh/hook'] ?? '').split(',');
  assert.ok(hooks.includes('pre-install') && hooks.includes('pre-upgrade'), `${s.name}: Job hooks ${hooks}`);
  assert.ok(job.metadata.annotations?.['helm.sh/hook-weight'], `${s.name}: Job has no hook weight`);
  assert.ok(job.metadata.annotations?.['helm.sh/hook-delete-policy']?.includes('before-hook-creation'), `${s.name}: Job delete policy`);
  const jobPod = job.spec?.template.spec as Obj;
  assert.equal(jobPod.restartPolicy, 'Never');
  const steps = [...(jobPod.initContainers ?? []), ...jobPod.containers].map((c: Obj) => (c.command ?? []).concat(c.args ?? []).join(' '));
  const migrateAt = steps.findIndex((cmd) => cmd.includes('libs/persistence/dist/src/cli/migrate.js'));
  const provisionAt = steps.findIndex((cmd) => cmd.includes('libs/messaging/dist/src/cli/provision.js'));
  assert.ok(migrateAt >= 0 && provisionAt >= 0, `${s.name}: the Job runs ${JSON.stringify(steps)}`);
  assert.ok(migrateAt < provisionAt, `${s.name}: the migration must run before provisioning`);
  const gatewayImage = deployments.find((d) => component(d) === 'gateway')?.spec?.template.spec.containers[0].image;
  for (const c of [...(jobPod.initContainers ?? []), ...jobPod.containers]) {
    assert.equal(c.image, gatewayImage, `${s.name}: Job container ${c.name} does not use the gateway image`);
    const replicas = (c.env as Obj[]).find((e) => e.name === 'NATS_STREAM_REPLICAS')?.value;
    assert.equal(replicas, String(values.nats?.streamReplicas ?? 3), `${s.name}: NATS_STREAM_REPLICAS`);
    // Provisioning gets the stream limits and the LLM settings that size the KV buckets.
    const jobEnv = new Map((c.env as Obj[]).map((e) => [e.name, e.value as string]));
    assert.deepEqual(JSON.parse(jobEnv.get('NATS_STREAM_LIMITS') ?? ''), values.nats?.streamLimits ?? {}, `${s.name}: NATS_STREAM_LIMITS`);
    assert.equal(jobEnv.get('LLM_CACHE_TTL_SECONDS'), String(values.llm?.cacheTtlSeconds ?? 86400), `${s.name}: LLM_CACHE_TTL_SECONDS`);
    assert.equal(jobEnv.get('LLM_RATE_WINDOW_MS'), String(values.llm?.rateWindowMs ?? 60000), `${s.name}: LLM_RATE_WINDOW_MS`);
    // Hooks run before the release's objects exist: only existing Secrets or hook Secrets.
    for (const e of c.env as Obj[]) {
      const ref = e.valueFrom?.secretKeyRef?.name;
      if (!ref) continue;
      const secret = named(s, 'Secret', ref);
      assert.ok(!secret || isHook(secret), `${s.name}: the hook Job reads Secret ${ref}, created only after pre-install hooks`);
      if (secret) {
        assert.ok(Number(secret.metadata.annotations?.['helm.sh/hook-weight']) < Number(job.metadata.annotations?.['helm.sh/hook-weight']), `${s.name}: hook Secret after the Job`);
      }
    }
  }
  const sa = of(s, 'ServiceAccount').map((o) => o.metadata.name);
  assert.ok(!sa.includes(jobPod.serviceAccountName), `${s.name}: the hook Job uses the release's ServiceAccount, which pre-install does not have yet`);
  // What the services get from config.extraEnv and mounted Secrets (CA, NATS TLS and NKey) the Job gets too.
  const fileEnv = (c: Obj) => (c.env as Obj[]).filter((e) => e.name.endsWith('_FILE') || e.name === 'NODE_EXTRA_CA_CERTS').map((e) => `${e.name}=${e.value}`).sort();
  const gatewayContainer = deployments.find((d) => component(d) === 'gateway')?.spec?.template.spec.containers[0] as Obj;
  for (const c of [...(jobPod.initContainers ?? []), ...jobPod.containers]) {
    const env = new Map((c.env as Obj[]).map((e) => [e.name, e.value]));
    for (const [name, value] of Object.entries(values.config?.extraEnv ?? {})) assert.equal(env.get(name), String(value), `${s.name}: Job container ${c.name}: config.extraEnv ${name}`);
    assert.deepEqual(fileEnv(c), fileEnv(gatewayContainer), `${s.name}: Job container ${c.name}: mounted files differ from the services'`);
  }
  // In a default-deny namespace the Job reaches NATS and PostgreSQL only through its own policy,
  // which must therefore exist before it: a pre-install/pre-upgrade hook of a lower weight.
  if (values.networkPolicy?.enabled !== false) {
    const jobPolicy = of(s, 'NetworkPolicy').find((o) => subset(o.spec?.podSelector.matchLabels, job.spec?.template.metadata.labels));
    assert.ok(jobPolicy, `${s.name}: no NetworkPolicy selects the hook Job's pod`);
    const policyHooks = (jobPolicy.metadata.annotations?.['helm.sh/hook'] ?? '').split(',');
    assert.ok(policyHooks.includes('pre-install') && policyHooks.includes('pre-upgrade'), `${s.name}: the Job's NetworkPolicy is not a pre-install/pre-upgrade hook`);
    assert.ok(
      Number(jobPolicy.metadata.annotations?.['helm.sh/hook-weight']) < Number(job.metadata.annotations?.['helm.sh/hook-weight']),
      `${s.name}: the Job's NetworkPolicy is created after the Job`,
    );
    const egress = new Set((jobPolicy.spec?.egress as Obj[]).flatMap((r) => r.ports.map((p: Obj) => p.port)));
    for (const needed of [53, 4222, 5432]) assert.ok(egress.has(needed), `${s.name}: the Job's policy has no egress on ${needed}`);
  }

  // Names: DNS labels of at most 63 characters, never two objects of one kind with one name.
  const seen = new Set<string>();
  for (const o of s.objects) {
    assert.ok(o.metadata.name.length <= 63, `${s.name}: ${o.kind}/${o.metadata.name} is ${o.metadata.name.length} characters`);
    assert.match(o.metadata.name, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, `${s.name}: ${o.kind}/${o.metadata.name}`);
    assert.ok(!seen.has(`${o.kind}/${o.metadata.name}`), `${s.name}: two objects named ${o.kind}/${o.metadata.name}`);
    seen.add(`${o.kind}/${o.metadata.name}`);
  }

  // Pods spread (by default over zones and nodes) unless turned off.
  if ((values.topologySpread?.constraints ?? [{}]).length > 0) {
    for (const d of deployments) {
      const spread = d.spec?.template.spec.topologySpreadConstraints as Obj[] | undefined;
      const own = values.services?.[component(d).replace(/-(\w)/g, (_m: string, ch: string) => ch.toUpperCase())]?.topologySpreadConstraints as Obj[] | undefined;
      const keys = (own ?? values.topologySpread?.constraints ?? [{ topologyKey: 'topology.kubernetes.io/zone' }, { topologyKey: 'kubernetes.io/hostname' }]).map((t: Obj) => t.topologyKey);
      assert.deepEqual(spread?.map((t) => t.topologyKey), keys, `${s.name}: ${d.metadata.name} topology spread`);
      for (const t of spread ?? []) assert.ok(subset(t.labelSelector.matchLabels, d.spec?.template.metadata.labels), `${s.name}: ${d.metadata.name} spread selector`);
    }
  }

  // helm test: a test hook pod on the gateway image that checks /readyz and the API through its Service.
  const testPods = of(s, 'Pod');
  assert.equal(testPods.length, values.tests?.enabled === false ? 0 : 1, `${s.name}: helm test pods`);
  for (const pod of testPods) {
    assert.equal(pod.metadata.annotations?.['helm.sh/hook'], 'test', `${s.name}: Pod ${pod.metadata.name} is not a test hook`);
    const c = pod.spec?.containers[0] as Obj;
    assert.equal(c.image, gatewayImage, `${s.name}: test pod image`);
    const script = [...(c.command ?? []), ...(c.args ?? [])].join(' ');
    assert.match(script, /\/readyz/, `${s.name}: the test does not check /readyz`);
    assert.match(script, /\/api\/v1\//, `${s.name}: the test makes no API call`);
    const gatewayService = of(s, 'Service').find((o) => component(o) === 'gateway') as K8sObject;
    const url = (c.env as Obj[]).find((e) => e.name === 'API_URL')?.value;
    assert.equal(url, `http://${gatewayService.metadata.name}:${gatewayService.spec?.ports[0].port}`, `${s.name}: test pod API_URL`);
    if (values.tests?.apiKeySecret) assert.ok((c.env as Obj[]).find((e) => e.name === 'API_KEY')?.valueFrom?.secretKeyRef, `${s.name}: API key from a Secret`);
  }

  // HTTPRoute, when rendered, routes to the gateway's Service port.
  for (const route of of(s, 'HTTPRoute')) {
    const gatewayService = of(s, 'Service').find((o) => component(o) === 'gateway') as K8sObject;
    for (const rule of route.spec?.rules as Obj[]) {
      assert.deepEqual(
        (rule.backendRefs as Obj[]).map((b) => `${b.name}:${b.port}`),
        [`${gatewayService.metadata.name}:${gatewayService.spec?.ports[0].port}`],
        `${s.name}: HTTPRoute backend`,
      );
    }
  }

  // Ingress, when rendered, routes to the gateway's Service.
  for (const ingress of of(s, 'Ingress')) {
    const gatewayService = of(s, 'Service').find((o) => component(o) === 'gateway')?.metadata.name;
    for (const rule of ingress.spec?.rules ?? []) {
      for (const path of rule.http.paths) assert.equal(path.backend.service.name, gatewayService, `${s.name}: Ingress backend`);
    }
  }
}

export function checkScaledObjects(s: Scenario, values: Obj): void {
  const objects = of(s, 'ScaledObject');
  assert.deepEqual(objects.map(component).sort(), Object.keys(WORKER_STREAMS).sort(), `${s.name}: a ScaledObject per worker`);
  const prefix = values.nats?.namespace ? `${String(values.nats.namespace).toUpperCase()}_` : '';
  for (const so of objects) {
    const worker = component(so);
    const where = `${s.name}: ScaledObject ${so.metadata.name}`;
    assert.equal(so.spec?.scaleTargetRef.name, of(s, 'Deployment').find((d) => component(d) === worker)?.metadata.name, `${where}: target`);
    const triggers = so.spec?.triggers as Obj[];
    for (const t of triggers) {
      assert.equal(t.type, 'nats-jetstream', `${where}: trigger type`);
      assert.equal(t.metadata.natsServerMonitoringEndpoint, values.nats?.monitoringEndpoint ?? 'nats-headless.nats.svc.cluster.local:8222', `${where}: monitoring endpoint`);
    }
    // Its own stream and exactly its own durable consumers, as libs/contracts declares them.
    const stream = WORKER_STREAMS[worker] as string;
    const expected = Object.values(CONSUMERS)
      .filter((c) => c.stream === stream)
      .map((c) => `${prefix}${c.stream}/${c.durable}`)
      .sort();
    assert.deepEqual(triggers.map((t) => `${t.metadata.stream}/${t.metadata.consumer}`).sort(), expected, `${where}: stream/consumer triggers`);
    if (triggers.length > 1) {
      const formula = so.spec?.advanced?.scalingModifiers?.formula as string;
      for (const t of triggers) assert.ok(formula?.includes(t.name), `${where}: formula ${formula} leaves out trigger ${t.name}`);
    }
  }
  assert.equal(of(s, 'HorizontalPodAutoscaler').filter((h) => component(h) !== 'gateway').length, 0, `${s.name}: worker HPAs next to KEDA`);
}

