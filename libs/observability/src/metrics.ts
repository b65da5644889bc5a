import { collectDefaultMetrics, Counter, Histogram, Gauge, Registry } from 'prom-client';

/**
 * The process's one metrics registry: every lib and service registers its metrics here and
 * /metrics serves it. Default Node metrics (event-loop lag, heap, GC) are collected once.
 */
export const registry = new Registry();
let defaultsCollected = false;

/** Labels every series of this process carries (service name). Call once at start-up. */
export function initMetrics(service: string): Registry {
  registry.setDefaultLabels({ service });
  if (!defaultsCollected) {
    collectDefaultMetrics({ register: registry });
    defaultsCollected = true;
  }
  return registry;
}

/** Latency buckets in seconds, from 1 ms (message dispatch) to 5 min (a long LLM call). */
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/** Returns the metric registered under `name`, creating it on first use (libs may be loaded twice in tests). */
export function counter<L extends string>(name: string, help: string, labelNames: readonly L[]): Counter<L> {
  return (registry.getSingleMetric(name) as Counter<L> | undefined) ?? new Counter({ name, help, labelNames, registers: [registry] });
}

export function histogram<L extends string>(
  name: string,
  help: string,
  labelNames: readonly L[],
  buckets: number[] = LATENCY_BUCKETS,
): Histogram<L> {
  return (
    (registry.getSingleMetric(name) as Histogram<L> | undefined) ??
    new Histogram({ name, help, labelNames, buckets, registers: [registry] })
  );
}

export function gauge<L extends string>(name: string, help: string, labelNames: readonly L[]): Gauge<L> {
  return (registry.getSingleMetric(name) as Gauge<L> | undefined) ?? new Gauge({ name, help, labelNames, registers: [registry] });
}
