import assert from 'node:assert/strict';
import type { Platform } from './platform.js';

/**
 * `roadmap_execution_logs_dropped_total` summed over every live process of the platform (a process
 * killed with SIGKILL took its counters with it). Each process must expose the metric, so a renamed or
 * unregistered counter fails the caller instead of reading as zero.
 */
export async function executionLogDrops(platform: Platform): Promise<number> {
  const live = platform.processes.filter((p) => p.child.exitCode === null && p.child.signalCode === null);
  let total = 0;
  for (const proc of live) {
    const text = await (await fetch(`http://127.0.0.1:${proc.port}/metrics`)).text();
    assert.match(text, /^# TYPE roadmap_execution_logs_dropped_total counter$/m, `${proc.service}.${proc.index} exposes the drop counter`);
    for (const [, value] of text.matchAll(/^roadmap_execution_logs_dropped_total\{[^}]*\} (\S+)$/gm)) total += Number(value);
  }
  return total;
}
