// Shared by the latency-mode workers (platform and raw): per-message timestamps and where the tail
// comes from. t = scheduled send time, s = actual send time (producer), h = handler start (worker);
// all epoch ms with fractions (performance.timeOrigin + performance.now(): same clock in every
// process on this machine).
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';

// latencyRecorder(n, first, warmup): n measured messages numbered 0..n-1, after `warmup` messages
// numbered -warmup..-1 (sent first, same rate, same processes: JIT and heap warm up before the
// measured ones). Reported: percentiles of the measured messages; `firstSecond`, the consumer's
// first `first` messages (cold: its start, warm-up included); `steady`, the measured ones without
// their first `first` (when there is no warm-up).
export function latencyRecorder(n, first, warmup = 0) {
  const size = warmup + n;
  const total = new Float64Array(size), lag = new Float64Array(size), transit = new Float64Array(size), sched = new Float64Array(size);
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  const gc = { count: 0, totalMs: 0, maxMs: 0, over10ms: 0 };
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) { gc.count++; gc.totalMs += e.duration; gc.maxMs = Math.max(gc.maxMs, e.duration); if (e.duration > 10) gc.over10ms++; }
  });
  obs.observe({ entryTypes: ['gc'] });
  return {
    record(i, t, s, h) { const j = i + warmup; total[j] = h - t; lag[j] = s - t; transit[j] = h - s; sched[j] = t; },
    result() {
      loop.disable(); obs.disconnect();
      const stats = (arr) => {
        const s = Array.from(arr).sort((a, b) => a - b);
        const p = (q) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
        return { n: s.length, p50: p(0.5), p90: p(0.9), p99: p(0.99), p999: p(0.999), max: s.at(-1) };
      };
      // Stalls: messages over 20 ms grouped by the 100 ms window of their scheduled time. A few
      // windows holding most of them means stalls (something stopped), not a uniformly slow path.
      const t0 = sched[warmup];
      const windows = new Map();
      let slow = 0;
      for (let i = warmup; i < size; i++) if (total[i] > 20) { slow++; const w = Math.floor((sched[i] - t0) / 100); windows.set(w, (windows.get(w) ?? 0) + 1); }
      const worst = [...windows].sort((a, b) => b[1] - a[1]).slice(0, 5).map(([w, c]) => ({ atMs: w * 100, slow: c }));
      const ms = (h) => Math.round(h / 1e4) / 100; // histogram ns -> ms
      return {
        ...stats(total.subarray(warmup)),
        firstSecond: first > 0 ? stats(total.subarray(0, Math.min(first, size))) : undefined,
        steady: warmup === 0 && first > 0 ? stats(total.subarray(first)) : undefined,
        warmup,
        producerLag: stats(lag.subarray(warmup)), transit: stats(transit.subarray(warmup)),
        slowOver20ms: slow, slowWindows100ms: windows.size, worstWindows: worst,
        workerLoopDelay: { p50: ms(loop.percentile(50)), p99: ms(loop.percentile(99)), max: ms(loop.max) },
        workerGc: { ...gc, totalMs: Math.round(gc.totalMs), maxMs: Math.round(gc.maxMs * 10) / 10 },
      };
    },
  };
}

/** Event-loop delay and GC of a producer process (its own stalls delay sends: producer lag). */
export function processStalls() {
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  const gc = { count: 0, totalMs: 0, maxMs: 0 };
  const obs = new PerformanceObserver((list) => { for (const e of list.getEntries()) { gc.count++; gc.totalMs += e.duration; gc.maxMs = Math.max(gc.maxMs, e.duration); } });
  obs.observe({ entryTypes: ['gc'] });
  const ms = (h) => Math.round(h / 1e4) / 100;
  return () => { loop.disable(); obs.disconnect(); return { loopDelay: { p50: ms(loop.percentile(50)), p99: ms(loop.percentile(99)), max: ms(loop.max) }, gc: { ...gc, totalMs: Math.round(gc.totalMs), maxMs: Math.round(gc.maxMs * 10) / 10 } }; };
}

/**
 * Open loop: calls send(i, t, s) for message i at t = startAt + i / rate (t scheduled, s actual),
 * never waiting for earlier sends; checks the schedule every millisecond. Resolves when all sends
 * settled, with the send-to-ack time percentiles and the failures.
 */
export async function openLoop(n, rate, startAt, now, send) {
  let sent = 0, failed = 0, pending = 0;
  const ack = new Float64Array(n);
  let allSettled;
  const settled = new Promise((r) => (allSettled = r));
  await new Promise((resolve) => {
    const tick = () => {
      const due = Math.min(n, Math.floor(((now() - startAt) * rate) / 1000) + 1);
      while (sent < due) {
        const i = sent++;
        const t = startAt + (i * 1000) / rate;
        const s = now();
        pending++;
        send(i, t, s).then(() => { ack[i] = now() - s; }, () => { failed++; }).finally(() => { if (--pending === 0 && sent >= n) allSettled(); });
      }
      if (sent >= n) resolve(); else setTimeout(tick, 1);
    };
    tick();
  });
  if (pending > 0) await settled;
  const s = Array.from(ack).sort((a, b) => a - b);
  const p = (q) => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
  return { failed, publishAck: { p50: p(0.5), p99: p(0.99), max: s.at(-1) } };
}
