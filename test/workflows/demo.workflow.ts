/*
 * A workflow that exists only for the tests: written the way the "Add a workflow" guide
 * (docs/add-a-workflow.md) says, and deployed by configuration alone (WORKFLOW_MODULES names this
 * file's build), with no edit to the engine, the gateway or the chart. It shows what the engine gives
 * every definition: a checkpoint per step replayed after a crash, a signal wait with a typed payload,
 * a fan-out to child workflows joined into one result, and cancel reaching the children.
 */
import { defineTaskType } from '@roadmap/contracts';
import { defineWorkflow } from '@roadmap/workflow';
import { z } from 'zod';

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(timer), reject(signal.reason)), { once: true });
  });

/** Each step's execution, on the worker's stdout: the test counts them across a crash. */
const ran = (step: string, taskId: string) => process.stdout.write(`demo-workflow ran ${step} of ${taskId}\n`);

export const DemoType = defineTaskType({
  type: 'test.demo',
  version: 'test-demo@1',
  description: 'Test only: a slow step, a wait for approval, then one child per n summed',
  input: z.strictObject({ count: z.number().int().min(1).max(20), slowMs: z.number().int().min(0).max(60_000).default(0), childMs: z.number().int().min(0).max(60_000).default(0) }),
  result: z.object({ sum: z.number().int(), note: z.string(), children: z.number().int() }),
  signals: { approve: z.strictObject({ note: z.string().min(1).max(200) }) },
});

export const DemoChildType = defineTaskType({
  type: 'test.demo-child',
  version: 'test-demo-child@1',
  description: 'Test only: squares n after childMs',
  input: z.strictObject({ n: z.number().int(), childMs: z.number().int().min(0).default(0) }),
  result: z.object({ n: z.number().int(), square: z.number().int() }),
});

interface DemoState {
  prepared: boolean;
  slow: boolean;
  note?: string;
  fannedOut: boolean;
}

const demo = defineWorkflow<z.infer<typeof DemoType.input>, z.infer<typeof DemoType.result>, DemoState>({
  contract: DemoType,
  initialState: () => ({ prepared: false, slow: false, fannedOut: false }),
  apply(state, step, data) {
    if (step === 'prepare') state.prepared = true;
    if (step === 'slow') state.slow = true;
    if (step === 'approve') state.note = String(data.note);
    if (step === 'fan_out') state.fannedOut = true;
  },
  next(state) {
    if (!state.prepared) return { step: 'prepare' };
    if (!state.slow) return { step: 'slow' };
    if (state.note === undefined) return { wait: 'approve' };
    if (!state.fannedOut) return { step: 'fan_out' };
    return { children: true };
  },
  steps: {
    async prepare({ task }) {
      ran('prepare', task.id);
      return { data: { at: new Date().toISOString() } };
    },
    async slow({ task, signal }) {
      ran('slow', task.id);
      await sleep(task.input.slowMs, signal);
      return { data: {} };
    },
    async fan_out({ task }) {
      ran('fan_out', task.id);
      return {
        data: { children: task.input.count },
        children: Array.from({ length: task.input.count }, (_, i) => ({ type: DemoChildType.type, input: { n: i + 1, childMs: task.input.childMs } })),
      };
    },
  },
  signals: { approve: { schema: DemoType.signals!.approve as z.ZodType<{ note: string }>, describe: (p) => ({ message: `approved: ${p.note}` }) } },
  async join(_task, children, _em, state) {
    const done = children.filter((c) => c.status === 'completed');
    return { sum: done.reduce((sum, c) => sum + (c.result as { square: number }).square, 0), note: state.note ?? '', children: done.length };
  },
});

const child = defineWorkflow<z.infer<typeof DemoChildType.input>, z.infer<typeof DemoChildType.result>, { square?: number }>({
  contract: DemoChildType,
  initialState: () => ({}),
  apply(state, step, data) {
    if (step === 'square') state.square = Number(data.square);
  },
  next: (state, task) => (state.square === undefined ? { step: 'square' } : { complete: { n: task.input.n, square: state.square } }),
  steps: {
    async square({ task, signal }) {
      await sleep(task.input.childMs, signal);
      return { data: { square: task.input.n * task.input.n } };
    },
  },
});

export const workflows = [demo, child];
