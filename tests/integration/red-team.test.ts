import { readFileSync, truncateSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { ChildProcess } from 'node:child_process';
import { join, relative } from 'node:path';
import { readdirSync, statSync } from 'node:fs';
import { ActivityFailure, ApplicationFailure, WorkflowFailedError, WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { temporal } from '@temporalio/proto';
import { getBenchmark } from '../../benchmarks/registry';
import { seedHarness } from '../../harness/seed';
import { ArtifactStore } from '../../store/artifact-store';
import { attempt, GUARD_SMOKE_TESTS, REPEATED_STATE_GUARD } from '../fixtures/code-processors';
import { digestAll, scriptedMetaAgent } from '../helpers/scripted-meta-agent';
import { startWireServer } from '../helpers/wire-server';
import { startDevServer, tempDataDir, waitFor } from './temporal-env';
import { killAll, spawnWorker } from './worker-process';

/**
 * Issue 17's attacks against a real dev server and a real worker process (`harnessx worker`), as the Web
 * UI or a script would start them: each bad start fails at once (no retried activity, no failed workflow
 * task), non-retryably as InvalidInput, with a bounded message; the worker stays small and live. The
 * attacks through the project's own functions are in tests/unit/red-team.test.ts.
 */
jest.setTimeout(300_000);

const QUEUE = 'it-red-team';
let env: TestWorkflowEnvironment;
let worker: ChildProcess;
let dataDir: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  env = await startDevServer();
  dataDir = tempDataDir();
  worker = await spawnWorker({ address: env.address, dataDir, env: { HARNESSX_TASK_QUEUE: QUEUE } }, children);
});
afterAll(async () => {
  killAll(children);
  await env?.teardown();
});

const start = (workflow: string, workflowId: string, input: unknown) => env.client.workflow.start(workflow, { taskQueue: QUEUE, workflowId, args: [input] });

/** The failure a run ended with: the workflow's own, or the activity's cause when an activity failed it. */
async function failureOf(handle: WorkflowHandle): Promise<{ failure: ApplicationFailure; viaActivity: boolean }> {
  const error = await handle.result().then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(WorkflowFailedError);
  const cause = (error as WorkflowFailedError).cause;
  if (cause instanceof ActivityFailure) {
    expect(cause.cause).toBeInstanceOf(ApplicationFailure);
    return { failure: cause.cause as ApplicationFailure, viaActivity: true };
  }
  expect(cause).toBeInstanceOf(ApplicationFailure);
  return { failure: cause as ApplicationFailure, viaActivity: false };
}

const EventType = temporal.api.enums.v1.EventType;
/** What the history shows about retries: every activity attempt started, and workflow tasks that failed. */
async function attempts(handle: WorkflowHandle): Promise<{ activities: Array<{ name: string; attempt: number }>; failedWorkflowTasks: number }> {
  const events = (await handle.fetchHistory()).events ?? [];
  const names = new Map<string, string>();
  for (const e of events) if (e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED) names.set(String(e.eventId), e.activityTaskScheduledEventAttributes!.activityType!.name!);
  return {
    activities: events
      .filter((e) => e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED)
      .map((e) => ({ name: names.get(String(e.activityTaskStartedEventAttributes!.scheduledEventId))!, attempt: e.activityTaskStartedEventAttributes!.attempt! })),
    failedWorkflowTasks: events.filter((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED).length,
  };
}

/** The worker process's resident set, from /proc (Linux). */
function rssMb(pid: number): number {
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
  return kb / 1024;
}

/** Every file under `dir`, relative to it. */
function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

/** The seed harness with one extra code processor on before_model. */
function seedWithCode(params: Record<string, unknown>): Record<string, unknown> {
  const base = seedHarness('sim:small');
  return { ...base, hooks: { ...base.hooks, before_model: [...base.hooks.before_model, { id: 'evolved', type: 'code', params }] } };
}

const SMALL_RUN = { benchmark: 'blocksworld', model: 'sim:small', rounds: 1, batchSize: 6, validationSize: 3, trackHeldOut: false, evaluateTest: false, finalTrainTasks: 6, regressionGuard: { every: 0 } };

// (c) first: nothing may have been written at the data root before it, by anyone.
it('workflow id ".." fails at once as InvalidInput in every workflow, and nothing is written at the data root', async () => {
  const before = filesUnder(dataDir);
  const starts: Array<[string, unknown]> = [
    ['evolveHarness', SMALL_RUN],
    ['coevolve', { benchmark: 'blocksworld', iterations: 1 }],
    ['evaluateHarness', { benchmark: 'blocksworld', harnessId: 'hx-0123456789abcdef', taskIds: ['blocksworld/instance-1'] }],
  ];
  for (const [workflow, input] of starts) {
    // One id at a time: a workflow id names one execution on the server.
    const handle = await start(workflow, '..', input);
    const { failure, viaActivity } = await failureOf(handle);
    expect(viaActivity).toBe(false);
    expect(failure).toMatchObject({ type: 'InvalidInput', nonRetryable: true });
    expect(failure.message).toMatch(/workflow id "\.\." is not safe/);
    expect(await attempts(handle)).toEqual({ activities: [], failedWorkflowTasks: 0 });
  }
  expect(filesUnder(dataDir)).toEqual(before);
  expect(filesUnder(dataDir).filter((f) => /audit|summary/.test(f))).toEqual([]);
});

it('raw JSON with params nested 10,000 deep becomes InvalidInput, not a stack overflow', async () => {
  // Sent as raw bytes: the client's own JSON.stringify is not what is under test.
  const depth = 10_000;
  const params = '{"v":'.repeat(depth) + '"leaf"' + '}'.repeat(depth);
  const text = `{"benchmark":"blocksworld","seedHarness":{"schemaVersion":1,"name":"deep","hooks":{"before_model":[{"id":"deep","type":"code","params":${params}}]}}}`;
  const workflowId = 'rt-deep-params';
  await env.client.workflowService.startWorkflowExecution({
    namespace: env.namespace ?? 'default',
    workflowId,
    requestId: randomUUID(),
    workflowType: { name: 'evolveHarness' },
    taskQueue: { name: QUEUE },
    input: { payloads: [{ metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from(text) }] },
  });
  const handle = env.client.workflow.getHandle(workflowId);
  const { failure, viaActivity } = await failureOf(handle);
  expect(viaActivity).toBe(false);
  expect(failure).toMatchObject({ type: 'InvalidInput', nonRetryable: true });
  expect(failure.message).toMatch(/seedHarness is nested deeper than 32 levels/);
  expect(failure.message).not.toMatch(/stack|\/work\/|\/tmp\//i);
  expect(await attempts(handle)).toEqual({ activities: [], failedWorkflowTasks: 0 });
});

it('a start with 9,999 problems gets a capped message, in the workflow and in prepareRun', async () => {
  // In the workflow: 9,999 malformed task ids.
  const evaluate = await start('evaluateHarness', 'rt-many-ids', { benchmark: 'blocksworld', harnessId: 'hx-0123456789abcdef', taskIds: Array.from({ length: 9999 }, (_, i) => `../x${i}`) });
  const inWorkflow = await failureOf(evaluate);
  expect(inWorkflow.viaActivity).toBe(false);
  expect(inWorkflow.failure).toMatchObject({ type: 'InvalidInput', nonRetryable: true });
  expect(inWorkflow.failure.message).toMatch(/… and 9979 more problem\(s\)/);
  expect(inWorkflow.failure.message.length).toBeLessThan(8000);
  expect(await attempts(evaluate)).toEqual({ activities: [], failedWorkflowTasks: 0 });

  // In prepareRun: a seed harness with 3,000 processors of no known type (9,999 are more values than a
  // seedHarness input may hold, 20,000: refused in the workflow itself, naming the field).
  const base = seedHarness('sim:small');
  const bogus = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `p${i}`, type: 'no_such_processor', params: {} }));
  const tooMany = await failureOf(await start('evolveHarness', 'rt-too-many-processors', { ...SMALL_RUN, seedHarness: { ...base, hooks: { ...base.hooks, before_model: bogus(9999) } } }));
  expect(tooMany).toMatchObject({ viaActivity: false, failure: { type: 'InvalidInput', message: expect.stringContaining('seedHarness: seedHarness has more than 20000 values') } });
  const evolve = await start('evolveHarness', 'rt-many-processors', { ...SMALL_RUN, seedHarness: { ...base, hooks: { ...base.hooks, before_model: bogus(3000) } } });
  const inActivity = await failureOf(evolve);
  expect(inActivity.viaActivity).toBe(true);
  expect(inActivity.failure).toMatchObject({ type: 'InvalidInput', nonRetryable: true });
  expect(inActivity.failure.message).toMatch(/unknown processor type "no_such_processor"/);
  expect(inActivity.failure.message).toMatch(/… and \d+ more problem\(s\)/);
  expect(inActivity.failure.message).not.toMatch(/exceeds size limit/);
  expect(inActivity.failure.message.length).toBeLessThan(8000);
  expect(await attempts(evolve)).toEqual({ activities: [{ name: 'prepareRun', attempt: 1 }], failedWorkflowTasks: 0 });
});

it('an unknown task id in evaluateHarness fails at once, non-retryably, naming the id', async () => {
  const harnessId = await new ArtifactStore(dataDir).putHarness(seedHarness('sim:small'));
  const known = getBenchmark('blocksworld').tasks()[0].id;
  const handle = await start('evaluateHarness', 'rt-unknown-task', { benchmark: 'blocksworld', harnessId, taskIds: [known, 'blocksworld/no-such-task'], k: 1 });
  const { failure, viaActivity } = await failureOf(handle);
  expect(viaActivity).toBe(true);
  expect(failure).toMatchObject({ type: 'InvalidInput', nonRetryable: true });
  expect(failure.message).toMatch(/blocksworld has no task "blocksworld\/no-such-task"/);
  expect(failure.message).not.toContain(JSON.stringify(known));
  expect(await attempts(handle)).toEqual({ activities: [{ name: 'rolloutOutcomes', attempt: 1 }], failedWorkflowTasks: 0 });
});

it('a seed harness carrying a string bomb fails at once as InvalidInput; the worker stays small and then completes a normal run', async () => {
  const pid = worker.pid!;
  const rssBefore = rssMb(pid);
  const bomb = seedWithCode({ source: attempt("let s = 'x'; const keep: string[] = []; while (true) { keep.push(s); s = s + s; }"), smokeTests: [GUARD_SMOKE_TESTS[0]] });
  const handle = await start('evolveHarness', 'rt-string-bomb', { ...SMALL_RUN, seedHarness: bomb });
  const { failure, viaActivity } = await failureOf(handle);
  expect(viaActivity).toBe(true);
  expect(failure).toMatchObject({ type: 'InvalidInput', nonRetryable: true });
  expect(failure.message).toMatch(/seedHarness\.hooks\.before_model\.evolved: smoke_test: .*memory limit/);
  expect(await attempts(handle)).toEqual({ activities: [{ name: 'prepareRun', attempt: 1 }], failedWorkflowTasks: 0 });
  const growth = rssMb(pid) - rssBefore;
  // Before: this seed harness took a worker from 0.3 to 2.5 GB. Now the guest's memory is its 16 MiB
  // WebAssembly cap on a sandbox thread of 96 MB heap; the growth that remains is loading TypeScript on
  // the checker thread (its first type-check) and the sandbox thread itself.
  process.stdout.write(`red-team: worker RSS ${rssBefore.toFixed(0)} MB → ${(rssBefore + growth).toFixed(0)} MB after the string bomb\n`);
  expect(growth).toBeLessThan(400);

  // The same worker, still alive, completes a normal run, with a verified code processor in its seed.
  expect(worker.exitCode).toBeNull();
  const normal = await start('evolveHarness', 'rt-after-bomb', { ...SMALL_RUN, seedHarness: seedWithCode({ source: REPEATED_STATE_GUARD, smokeTests: GUARD_SMOKE_TESTS }) });
  const summary = (await normal.result()) as { rounds: number; harnessId: string };
  expect(summary.harnessId).toMatch(/^hx-/);
  expect(worker.exitCode).toBeNull();
  expect(worker.pid).toBe(pid);
});

it('an activity keeps heartbeating while a pathological recursive type is type-checked, and fails on its first attempt', async () => {
  // Recursive tuple types: before, 700 characters of them blocked the worker's event loop for 11 s (2.4 GB);
  // now they are checked on the checker thread until its 30 s (or 512 MB) limit. prepareRun checks a seed
  // harness's code with the gate's own check (verifyCodeProcessor → compileProcessor).
  // 128 of them, so the check runs long enough for the server to see heartbeats on most machines.
  const names = Array.from({ length: 128 }, (_, i) => `T${i}`);
  const PATHOLOGICAL = `import type { HookEvent } from 'harnessx';
export function processEvent(e: HookEvent) { return null; }
type Build<N extends number, A extends unknown[] = []> = A['length'] extends N ? A : Build<N, [...A, A['length']]>;
${names.map((n, i) => `type ${n} = Build<${999 - i}>;`).join(' ')}
export const x: [${names.join(', ')}] extends [${[...names].reverse().join(', ')}] ? 1 : 0 = 0;
`;
  const startedAt = Date.now();
  const handle = await start('evolveHarness', 'rt-pathological-type', { ...SMALL_RUN, seedHarness: seedWithCode({ source: PATHOLOGICAL, smokeTests: GUARD_SMOKE_TESTS }) });
  // The heartbeats the server records for the running prepareRun (the SDK sends at most one per 12 s).
  const heartbeats = new Set<string>();
  let done = false;
  const result = failureOf(handle).finally(() => (done = true));
  while (!done) {
    const described = await handle.describe().catch(() => null);
    for (const a of described?.raw.pendingActivities ?? []) {
      expect(a.attempt).toBe(1);
      if (a.lastHeartbeatTime?.seconds) heartbeats.add(`${a.lastHeartbeatTime.seconds}.${a.lastHeartbeatTime.nanos ?? 0}`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  const { failure, viaActivity } = await result;
  expect(viaActivity).toBe(true);
  expect(failure).toMatchObject({ type: 'InvalidInput', nonRetryable: true });
  // The check is bounded by work (checker objects created), not by time: the same verdict on a busy and an idle machine.
  expect(failure.message).toMatch(/seedHarness\.hooks\.before_model\.evolved: compile: typecheck: the type check exceeded its work limit of \d+ checker objects/);
  // prepareRun's heartbeat timeout is 15 s. A check that outlived it finished on its first attempt only
  // because the worker kept heartbeating meanwhile (the check runs off the event loop); the server saw them.
  if (Date.now() - startedAt > 20_000) expect(heartbeats.size).toBeGreaterThanOrEqual(1);
  expect(await attempts(handle)).toEqual({ activities: [{ name: 'prepareRun', attempt: 1 }], failedWorkflowTasks: 0 });
  expect(worker.exitCode).toBeNull();
});

// Issue 28: inputs bounded where a history would break; a damaged artifact recomputed, not a failed run.
it('a 1.99 MB seedHarness in the start form fails at once as InvalidInput naming the field, before any activity', async () => {
  const base = seedHarness('sim:small');
  const handle = await start('evolveHarness', 'rt-huge-seed-harness', { ...SMALL_RUN, seedHarness: { ...base, name: 'p'.repeat(1_990_000) } });
  const { failure, viaActivity } = await failureOf(handle);
  expect(viaActivity).toBe(false);
  expect(failure).toMatchObject({ type: 'InvalidInput', nonRetryable: true });
  expect(failure.message).toContain('seedHarness: seedHarness is larger than 262144 characters');
  expect(await attempts(handle)).toEqual({ activities: [], failedWorkflowTasks: 0 });
});

it('an artifact damaged while a round uses it is recomputed: the round runs again from its rollout and the run completes', async () => {
  const dir = tempDataDir();
  const store = new ArtifactStore(dir);
  const queue = 'it-red-team-recompute';
  // The evolve stage is held open 4 s after it starts (a marker file says when), long enough to damage what it reads next.
  await spawnWorker({ address: env.address, dataDir: dir, env: { HARNESSX_TASK_QUEUE: queue, HARNESSX_FAULT_DELAY: 'evolve:4000' } }, children);
  const id = 'rt-recompute-artifact';
  const handle = await env.client.workflow.start('evolveHarness', { taskQueue: queue, workflowId: id, args: [SMALL_RUN] });
  await waitFor(async () => store.faultMarkers(id), (m) => m.includes('evolve'), 120_000, 'the evolve stage to start');
  const tracesRef = (await store.readAudit(id)).find((r) => r.key === '1:rollout')!.evidenceRefs[0];
  const hex = tracesRef.slice('sha256:'.length);
  // Torn: the round's traces blob cut to 20 bytes (before, the evolve activity moved it aside and its retries found it "not in the store": FAILED).
  truncateSync(join(dir, 'artifacts', hex.slice(0, 2), `${hex}.json.gz`), 20);

  const summary = (await handle.result()) as { rounds: number; harnessId: string };
  expect(summary.harnessId).toMatch(/^hx-/);
  const audit = await store.readAudit(id);
  expect(audit.find((r) => r.key === '1:recompute-1')).toMatchObject({ stage: 'evolve', payload: { artifact: tracesRef, reason: 'corrupt' } });
  // The round ran again from its rollout (which wrote the traces again), and its stages recorded under keys of their own.
  for (const stage of ['rollout', 'digest', 'plan', 'evolve']) expect(audit.map((r) => r.key)).toContain(`1:${stage}~redo1`);
  expect(audit.map((r) => r.key)).not.toContain('1:recompute-2');
  const { activities, failedWorkflowTasks } = await attempts(handle);
  expect(failedWorkflowTasks).toBe(0);
  // Every activity ran on its first attempt: the unreadable artifact was no retry, and the evolve ran twice in all.
  expect(activities.every((a) => a.attempt === 1)).toBe(true);
  expect(activities.filter((a) => a.name === 'evolve')).toHaveLength(2);
});

it('a memorising processor from the Evolver (a lookup table of the batch answers) is rejected by the gate on unseen tasks, and the run completes', async () => {
  const gsm8k = getBenchmark('gsm8k');
  const fnv = (text: string) => {
    let h = 0x811c9dc5;
    for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
    return (h >>> 0).toString(16).padStart(8, '0');
  };
  const instructionOf = new Map(gsm8k.tasks().map((t) => [t.id, t.instruction]));
  const answerOf = (id: string) => String(gsm8k.referenceSolution(id).at(-1)!.args.answer);
  // A before_tool processor that submits its table's answer for an instruction it knows (8 entries: under the
  // reward-hacking check's 12, so only the rule on unseen tasks stands in its way).
  const memoriser = (ids: string[]) => `import type { HookEvent, SandboxContext, SandboxResult } from 'harnessx';
const TABLE: { [key: string]: string } = { ${ids.map((id) => `'${fnv(instructionOf.get(id)!)}': '${answerOf(id)}'`).join(', ')} };
function fnv(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(16).padStart(8, '0');
}
export function processEvent(event: HookEvent, ctx: SandboxContext): SandboxResult {
  if (event.hook !== 'before_tool' || !event.call || event.call.name !== 'submit_answer') return null;
  const known = TABLE[fnv(ctx.instruction)];
  return known === undefined ? null : { ...event, call: { ...event.call, args: { answer: known } } };
}
`;
  const failing: string[] = [];
  const script = scriptedMetaAgent([
    { stage: 'digest', repeat: true, reply: (u) => (failing.push(...(u.tasks as Array<{ taskId: string }>).map((t) => t.taskId)), digestAll(u)) },
    {
      stage: 'plan',
      reply: (u) => ({
        options: [{ category: 'loop', bucket: 'processor', direction: 'Check the submitted answer.', editTypes: ['insert:code@before_tool'], targetTasks: failing.slice(0, 5) }],
        untriedEditTypes: (Array.isArray(u.untriedEditTypes) ? (u.untriedEditTypes as string[]) : Object.values(u.untriedEditTypes as Record<string, string[]>).flat()).slice(0, 5),
        notes: 'wrong answers',
      }),
    },
    {
      stage: 'evolve',
      reply: () => ({
        candidates: [
          {
            bucket: 'processor',
            rationale: 'submit the right answers',
            changes: [{ op: 'insert', hook: 'before_tool', processor: { id: 'answers', type: 'code', params: { source: memoriser(failing.slice(0, 8)), smokeTests: [{ name: 'n', event: { hook: 'before_tool' }, expect: 'unchanged' }] } } }],
            evidence: ['wrong final answer'],
            predictedImpact: { tasksWillUnlock: failing.slice(0, 8), stabilize: [], atRisk: [] },
          },
        ],
      }),
    },
    { stage: 'critique', reply: () => ({ decision: 'ship_ranking', ranking: ['r1-c1'], notes: ['fixes every wrong answer'] }) },
  ]);
  const server = await startWireServer(script.respond);
  try {
    const dir = tempDataDir();
    const queue = 'it-red-team-memoriser';
    await spawnWorker({ address: env.address, dataDir: dir, env: { HARNESSX_TASK_QUEUE: queue, ANTHROPIC_API_KEY: 'sk-ant-scripted-offline', ANTHROPIC_BASE_URL: server.url } }, children);
    const id = 'rt-memoriser';
    const handle = await env.client.workflow.start('evolveHarness', {
      taskQueue: queue,
      workflowId: id,
      args: [{ benchmark: 'gsm8k', model: 'sim:small', metaAgent: 'anthropic:claude-opus-4-6', rounds: 1, batchSize: 16, validationSize: 8, candidatesPerRound: 1, seed: 'rt-memo', evaluateTest: false, trackHeldOut: false, finalTrainTasks: 6, regressionGuard: { every: 0 } }],
    });
    const summary = (await handle.result()) as { shipped: number; rejected: number; harnessId: string; seedHarnessId: string };
    script.assertConsumed();
    expect(summary).toMatchObject({ shipped: 0, rejected: 1 });
    expect(summary.harnessId).toBe(summary.seedHarnessId);
    const gate = (await new ArtifactStore(dir).readAudit(id)).find((r) => r.key === '1:gate:r1-c1')!;
    expect(gate.kind).toBe('rollback');
    const checks = gate.payload.checks as Array<{ check: string; passed: boolean; detail: string }>;
    expect(checks.find((c) => c.check === 'reward_hacking')).toMatchObject({ passed: true });
    // It did gain — on the batch it was built from — and that is all it gained.
    expect(gate.payload.reason).toMatch(/^seesaw: no gain on unseen tasks: 0 of the unlocked on \d+ validation task\(s\) its author never saw \(needs ≥ 1\).*\(the comparison alone: \d+ → \d+ of \d+; unlocks [1-9]\d*, no regression/);
  } finally {
    await server.close();
  }
});
