import { readFileSync, writeFileSync } from 'node:fs';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { buildLineage, formatLineage } from '../aegis/lineage';
import { diffHarnesses, formatDiff } from '../harness/diff';
import { buildReport } from '../report/build-report';
import { loadRun } from '../report/load-run';
import { AesGcmCodec, dataConverter } from '../workers/codec';
import { createCodecServer } from './codec-server';
import { parseArgs } from 'node:util';
import { WorkflowFailedError, WorkflowHandle, WorkflowNotFoundError } from '@temporalio/client';
import { passRate, rolloutTasks } from '../aegis/rollout';
import { evolveInputSchema, inputProblems } from '../aegis/run-input';
import { checkBenchmark } from '../benchmarks/check-benchmark';
import { BENCHMARK_NAMES, getBenchmark } from '../benchmarks/registry';
import { HarnessConfigError, harnessId, parseHarnessConfig } from '../harness/config';
import { seedHarness } from '../harness/seed';
import { ProviderError } from '../models/errors';
import { checkModelString } from '../models/registry';
import { ArtifactStore } from '../store/artifact-store';
import { connectionSettings, TASK_QUEUE, taskQueue, webUiUrl } from '../temporal.config';
import { createAegisWorker, installRuntime } from '../workers/aegis-worker';
import { connectClient, connectWorker } from '../workers/connection';
import type { RunStatus, RunSummary } from '../workflows/evolve-harness';
import type { CoevolveResult, CoevolveStatus } from '../workflows/coevolve';
import { CoevolveInputSchema } from '../coevolution/coevolve-input';
import { exportGrpoFile } from '../activities/coevolution';
import { runTrainJob } from './train-job';
import { ensureDevServer } from './dev-server';
import { dataDir } from './paths';
import { findTemporalCli, ensureTemporalCli, TemporalCliMissing } from './temporal-cli';

class UsageError extends Error {}

const HELP = `harnessx — evolve LLM agent harnesses with AEGIS on Temporal

  harnessx start                          run AEGIS on blocksworld with sim:small (starts what is missing)
  harnessx evolve [options] [--json]      the same, non-interactive
      --benchmark B (blocksworld)  --model M (sim:small)  --rounds N (6)  --seed S  --patience P (3)
      --k K (2)  --batch-size N (40)  --validation-size N (30)  --candidates K (4)  --harness file.json
      --meta-agent rules|MODEL (rules; e.g. anthropic:claude-opus-4-6)  --evolver aegis|single-agent|random|reflective-prompt
      --strategy global|ensemble (global)  --gating seesaw|statistical (seesaw)
  harnessx coevolve [--benchmark B] [--model M] [--iterations N] [--batch-size N] [--k K] [--harness-only] [--json]
                                          harness–model co-evolution (GRPO); compares with harness-only on held-out tasks
  harnessx export-grpo <runId> --format trl|verl [--out PATH]   the run's replay buffer as a GRPO dataset
  harnessx check-benchmark <name> [--json] the verifier accepts every reference solution and rejects corrupted ones
  harnessx compare [--evolvers aegis,single-agent,random,reflective-prompt] [--meta-agent rules|MODEL]
      [--benchmark B] [--model M] [--rounds N] [--seed S] [--batch-size N] [--max-tokens N] [--json]
                                          AEGIS vs baselines on the same tasks, seeds and budget; one table
  harnessx rollout --benchmark B --model M [--harness file.json] [--split train|validation|test] [--tasks N] [--k K] [--json]
  harnessx server                         start the Temporal dev server (SQLite, Web UI on :8233), or reuse it
  harnessx worker                         run an AEGIS worker on task queue ${TASK_QUEUE} (HARNESSX_TASK_QUEUE)
  harnessx status|pause|resume|stop <workflowId>
  harnessx history <workflowId>           the run's audit timeline
  harnessx lineage <workflowId>           the tree of harness versions, with rejected candidates
  harnessx diff <harnessA> <harnessB>     processors added, removed, replaced, reconfigured (ids or files)
  harnessx report <workflowId> [--out f]  a self-contained HTML report with plots
  harnessx approve|reject <workflowId> [--reason R]   decide a candidate waiting in approval mode
  harnessx budget <workflowId> [--rounds N] [--patience P]
  harnessx replay <workflowId> [--save f] replay the run's histories against the current workflow code
  harnessx codec-server [--port 8888]     decrypt payloads for the Web UI (HARNESSX_CODEC_KEY, _AUTH)
  harnessx install-cli                    find or build the Temporal CLI

Environment: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_CERT/KEY (use a cluster),
TEMPORAL_CLI_PATH (use this CLI binary), HARNESSX_DATA_DIR (artifact store), HARNESSX_CODEC_KEY (encrypt payloads).`;

function say(json: boolean) {
  return (line: string) => (json ? process.stderr : process.stdout).write(line + '\n');
}

const pct = (x: number | null | undefined) => (x === null || x === undefined ? 'n/a' : `${(100 * x).toFixed(1)}%`);

function readHarnessFile(path: string | undefined, model: string) {
  if (!path) return seedHarness(model);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new UsageError(`--harness ${path}: ${(e as Error).message}`);
  }
  try {
    return parseHarnessConfig(raw);
  } catch (e) {
    if (e instanceof HarnessConfigError) throw new UsageError(`--harness ${path}: ${e.message}`);
    throw e;
  }
}

/** Options every run-starting command takes. */
const RUN_OPTIONS = {
  benchmark: { type: 'string', default: 'blocksworld' },
  model: { type: 'string', default: 'sim:small' },
  harness: { type: 'string' },
  seed: { type: 'string' },
  k: { type: 'string' },
  json: { type: 'boolean', default: false },
} as const;

function wholeNumber(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new UsageError(`--${name} must be a whole number, got "${v}"`);
  return Number(v);
}

async function evolve(argv: string[], interactive: boolean): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      ...RUN_OPTIONS,
      rounds: { type: 'string' },
      patience: { type: 'string' },
      'batch-size': { type: 'string' },
      'validation-size': { type: 'string' },
      candidates: { type: 'string' },
      'workflow-id': { type: 'string' },
      'meta-agent': { type: 'string' },
      evolver: { type: 'string' },
      strategy: { type: 'string' },
      gating: { type: 'string' },
    },
  });
  const json = values.json!;
  const log = say(json);
  const raw = {
    benchmark: values.benchmark,
    model: values.model,
    seed: values.seed,
    rounds: wholeNumber('rounds', values.rounds),
    patience: wholeNumber('patience', values.patience),
    k: wholeNumber('k', values.k),
    batchSize: wholeNumber('batch-size', values['batch-size']),
    validationSize: wholeNumber('validation-size', values['validation-size']),
    candidatesPerRound: wholeNumber('candidates', values.candidates),
    metaAgent: values['meta-agent'],
    evolver: values.evolver,
    strategy: values.strategy,
    gating: values.gating ? { mode: values.gating } : undefined,
    seedHarness: values.harness ? (readHarnessFile(values.harness, values.model!) as unknown as Record<string, unknown>) : undefined,
  };
  const parsed = evolveInputSchema().safeParse(Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== undefined)));
  if (!parsed.success) throw new UsageError(`invalid options:\n${inputProblems(parsed.error).map((p) => `  - ${p}`).join('\n')}`);
  const modelProblem = checkModelString(parsed.data.model);
  if (modelProblem) throw new UsageError(`--model: ${modelProblem}`);
  const metaProblem = parsed.data.metaAgent === 'rules' ? null : checkModelString(parsed.data.metaAgent);
  if (metaProblem) throw new UsageError(`--meta-agent: ${metaProblem}`);
  const input = parsed.data;

  await ensureDevServer(log);
  installRuntime();
  const settings = connectionSettings();
  const client = await connectClient();
  const worker = await createAegisWorker({ connection: await connectWorker(), dataDir: dataDir() });
  const workflowId = values['workflow-id'] ?? `evolve-${input.benchmark}-${input.model.replace(/[^\w]+/g, '-')}-${new Date().toISOString().replace(/[-:.TZ]/g, '').slice(0, 14)}`;
  const handle = await client.workflow.start('evolveHarness', { taskQueue: taskQueue(), workflowId, args: [input] });
  log(`AEGIS run ${workflowId} started on ${settings.address} (namespace ${settings.namespace}).`);
  log(`Follow it in the Temporal Web UI: ${webUiUrl(workflowId)}`);
  log(`Benchmark ${input.benchmark}, task model ${input.model} (the sim model is a simulator, not an LLM), ${input.rounds} rounds, pass@${input.k}.`);

  const started = Date.now();
  const summary = await worker.runUntil(followRun(handle, log, interactive));
  const harnessPath = new ArtifactStore(dataDir()).harnessPath(summary.harnessId);
  log('');
  log(`Done in ${Math.round((Date.now() - started) / 1000)} s — ${summary.stopReason}.`);
  log(`                       seed harness   evolved harness`);
  log(`  train pass@${input.k}  (${String(summary.trainTasks).padStart(3)})   ${pct(summary.seedPassRate).padStart(8)}   ${pct(summary.evolvedPassRate).padStart(8)}`);
  log(`  test  pass@${input.k}  (${String(summary.testTasks).padStart(3)})   ${pct(summary.seedTestPassRate).padStart(8)}   ${pct(summary.evolvedTestPassRate).padStart(8)}   (held out: never seen by evolution)`);
  log(`  ${summary.shipped} edit(s) shipped, ${summary.rejected} rejected by the gate.`);
  log(`  Evolved harness ${summary.harnessId}: ${harnessPath}`);
  log(`  Audit: npx harnessx history ${workflowId}   Summary: ${summary.summaryPath}`);
  if (json) process.stdout.write(JSON.stringify({ ...summary, harnessPath, webUi: webUiUrl(workflowId) }) + '\n');
}

/** How a workflow reports progress: its status query, and the status as a line (null: nothing new). */
interface ProgressView<S> {
  query: string;
  line(status: S, seconds: number): { key: string; text: string };
}

const EVOLVE_PROGRESS: ProgressView<RunStatus> = {
  query: 'status',
  line: (s, t) => ({ key: `${s.round}|${s.stage}|${s.lastEvent}`, text: `[${t}s] round ${s.round}/${s.rounds} · ${s.stage} · batch pass ${pct(s.lastPassRate)} · shipped ${s.shipped} · rejected ${s.rejected} · ${s.lastEvent}` }),
};

/** Waits for the run to end, printing a progress line whenever its status changes. */
async function followRun<R = RunSummary, S = RunStatus>(handle: WorkflowHandle, log: (line: string) => void, interactive: boolean, prefix = '', view: ProgressView<S> = EVOLVE_PROGRESS as unknown as ProgressView<S>): Promise<R> {
  let last = '';
  const started = Date.now();
  const poll = setInterval(async () => {
    try {
      const { key, text } = view.line(await handle.query<S>(view.query), Math.round((Date.now() - started) / 1000));
      if (key !== last) log(prefix + text);
      last = key;
    } catch {
      /* the query fails while the workflow task is being retried; the next tick will show progress */
    }
  }, interactive ? 700 : 1500);
  try {
    return await handle.result();
  } catch (e) {
    if (e instanceof WorkflowFailedError) throw new UsageError(`the run failed: ${e.cause?.message ?? e.message}`);
    throw e;
  } finally {
    clearInterval(poll);
  }
}

const EVOLVERS = ['aegis', 'single-agent', 'random', 'reflective-prompt'] as const;

/**
 * Runs AEGIS and baselines on the same tasks, seeds and budget (one workflow each, same gate, same records)
 * and prints one table; the static harness is the shared seed harness, evaluated on the same tasks.
 */
async function compare(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      ...RUN_OPTIONS,
      evolvers: { type: 'string', default: 'aegis,single-agent,random,reflective-prompt' },
      'meta-agent': { type: 'string', default: 'rules' },
      rounds: { type: 'string' },
      'batch-size': { type: 'string' },
      'validation-size': { type: 'string' },
      'max-tokens': { type: 'string' },
    },
  });
  const json = values.json!;
  const log = say(json);
  const evolvers = values.evolvers!.split(',').map((e) => e.trim()).filter(Boolean);
  const unknown = evolvers.filter((e) => !(EVOLVERS as readonly string[]).includes(e));
  if (unknown.length || !evolvers.length) throw new UsageError(`--evolvers: unknown ${unknown.map((u) => `"${u}"`).join(', ') || '(none given)'}; choose from ${EVOLVERS.join(', ')}`);
  const base = {
    benchmark: values.benchmark,
    model: values.model,
    metaAgent: values['meta-agent'],
    seed: values.seed ?? 'compare',
    rounds: wholeNumber('rounds', values.rounds),
    k: wholeNumber('k', values.k),
    batchSize: wholeNumber('batch-size', values['batch-size']),
    validationSize: wholeNumber('validation-size', values['validation-size']),
    maxTokens: wholeNumber('max-tokens', values['max-tokens']),
    seedHarness: values.harness ? (readHarnessFile(values.harness, values.model!) as unknown as Record<string, unknown>) : undefined,
  };
  const inputs = evolvers.map((evolver) => {
    const parsed = evolveInputSchema().safeParse(Object.fromEntries(Object.entries({ ...base, evolver }).filter(([, v]) => v !== undefined)));
    if (!parsed.success) throw new UsageError(`invalid options:\n${inputProblems(parsed.error).map((p) => `  - ${p}`).join('\n')}`);
    return parsed.data;
  });
  for (const [flag, m] of [['--model', inputs[0].model], ['--meta-agent', inputs[0].metaAgent]] as const) {
    const problem = m === 'rules' ? null : checkModelString(m);
    if (problem) throw new UsageError(`${flag}: ${problem}`);
  }
  await ensureDevServer(log);
  installRuntime();
  const client = await connectClient();
  const worker = await createAegisWorker({ connection: await connectWorker(), dataDir: dataDir() });
  const stamp = new Date().toISOString().replace(/[-:.TZ]/g, '').slice(0, 14);
  const rows: Array<RunSummary & { evolver: string }> = [];
  await worker.runUntil(async () => {
    for (const input of inputs) {
      const workflowId = `compare-${input.evolver}-${input.benchmark}-${stamp}`;
      const handle = await client.workflow.start('evolveHarness', { taskQueue: taskQueue(), workflowId, args: [input] });
      log(`${input.evolver}: run ${workflowId} (${webUiUrl(workflowId)})`);
      rows.push({ ...(await followRun(handle, log, false, `  ${input.evolver} `)), evolver: input.evolver });
    }
  });
  const first = rows[0];
  const table = [
    { evolver: 'static', trainPassRate: first.seedPassRate, testPassRate: first.seedTestPassRate, rounds: 0, shipped: 0, rejected: 0, tokens: 0, costUsd: 0 as number | null, workflowId: null as string | null },
    ...rows.map((r) => ({ evolver: r.evolver, trainPassRate: r.evolvedPassRate, testPassRate: r.evolvedTestPassRate, rounds: r.rounds, shipped: r.shipped, rejected: r.rejected, tokens: r.tokens, costUsd: r.costUsd, workflowId: r.workflowId })),
  ];
  log('');
  log(`${inputs[0].benchmark} · task model ${inputs[0].model} · meta-agent ${inputs[0].metaAgent} · seed "${inputs[0].seed}" · pass@${inputs[0].k} · train ${first.trainTasks} tasks, test ${first.testTasks} (held out)`);
  log(`  ${'evolver'.padEnd(18)} ${'train'.padStart(7)} ${'test'.padStart(7)} ${'rounds'.padStart(6)} ${'ships'.padStart(5)} ${'rejects'.padStart(7)} ${'tokens'.padStart(9)} ${'cost'.padStart(8)}`);
  for (const r of table)
    log(`  ${r.evolver.padEnd(18)} ${pct(r.trainPassRate).padStart(7)} ${pct(r.testPassRate).padStart(7)} ${String(r.rounds).padStart(6)} ${String(r.shipped).padStart(5)} ${String(r.rejected).padStart(7)} ${String(r.tokens).padStart(9)} ${(r.costUsd === null ? 'n/a' : `$${r.costUsd.toFixed(2)}`).padStart(8)}`);
  if (json) process.stdout.write(JSON.stringify({ benchmark: inputs[0].benchmark, model: inputs[0].model, metaAgent: inputs[0].metaAgent, seed: inputs[0].seed, k: inputs[0].k, trainTasks: first.trainTasks, testTasks: first.testTasks, rows: table }) + '\n');
}

async function rollout(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      ...RUN_OPTIONS,
      split: { type: 'string', default: 'test' },
      tasks: { type: 'string' },
      k: { type: 'string', default: '2' },
      seed: { type: 'string', default: 'harnessx' },
    },
  });
  if (!BENCHMARK_NAMES.includes(values.benchmark!)) throw new UsageError(`--benchmark must be one of ${BENCHMARK_NAMES.join(', ')}, got "${values.benchmark}"`);
  const modelProblem = checkModelString(values.model!);
  if (modelProblem) throw new UsageError(`--model: ${modelProblem}`);
  if (!['train', 'validation', 'test'].includes(values.split!)) throw new UsageError(`--split must be train, validation or test, got "${values.split}"`);
  if (values.tasks !== undefined && !/^\d+$/.test(values.tasks)) throw new UsageError(`--tasks must be a whole number, got "${values.tasks}"`);
  if (!/^\d+$/.test(values.k!) || Number(values.k) < 1) throw new UsageError(`--k must be a whole number ≥ 1, got "${values.k}"`);
  const config = readHarnessFile(values.harness, values.model!);
  const run = { ...config, model: { ...config.model, main: { ...config.model.main, model: values.model! } } };
  const benchmark = getBenchmark(values.benchmark!);
  let ids = benchmark.tasks().filter((t) => t.split === values.split).map((t) => t.id);
  if (values.tasks !== undefined) ids = ids.slice(0, Number(values.tasks));
  const log = say(values.json!);
  const started = Date.now();
  const { episodes, outcomes } = await rolloutTasks({
    benchmark, config: run, harnessId: harnessId(run), taskIds: ids, k: Number(values.k), seed: values.seed!, keepTraces: false,
    onEpisode: (done, total) => {
      if (done % 50 === 0) log(`  ${done}/${total} episodes`);
    },
  });
  const result = { benchmark: benchmark.name, model: values.model, harnessId: harnessId(run), split: values.split, passRate: passRate(outcomes), tasks: outcomes.length, episodes, seconds: (Date.now() - started) / 1000 };
  log(`${result.harnessId} on ${result.benchmark}/${result.split} with ${result.model}: pass@${values.k} ${pct(result.passRate)} over ${result.tasks} tasks (${result.episodes} episodes, ${result.seconds.toFixed(1)} s)`);
  if (values.json) process.stdout.write(JSON.stringify(result) + '\n');
}

async function control(command: string, id: string | undefined): Promise<void> {
  if (!id) throw new UsageError(`usage: harnessx ${command} <workflowId>`);
  const client = await connectClient();
  const handle = client.workflow.getHandle(id);
  let description;
  try {
    description = await handle.describe();
  } catch (e) {
    if (e instanceof WorkflowNotFoundError) throw new UsageError(`no workflow "${id}" in namespace ${connectionSettings().namespace}`);
    throw e;
  }
  const workflowStatus = description.status.name;
  if (command === 'status') {
    const out: Record<string, unknown> = { workflowId: id, workflowStatus, webUi: webUiUrl(id) };
    if (workflowStatus === 'RUNNING') {
      try {
        Object.assign(out, await handle.query<RunStatus>('status'));
      } catch (e) {
        out.note = `live status unavailable (${(e as Error).message}); is a worker running? npx harnessx worker`;
      }
    } else if (workflowStatus === 'COMPLETED') {
      out.result = await handle.result();
    }
    console.log(JSON.stringify(out, null, 2));
    return;
  }
  if (workflowStatus !== 'RUNNING') throw new UsageError(`cannot ${command} "${id}": it is ${workflowStatus.toLowerCase()}`);
  await handle.signal(command);
  console.log(`sent ${command} to ${id}${command === 'stop' ? ' (it stops after the current round)' : command === 'pause' ? ' (it pauses at the next stage boundary)' : ''}`);
}

async function decide(approve: boolean, argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args: argv, strict: true, allowPositionals: true, options: { candidate: { type: 'string' }, reason: { type: 'string' } } });
  const id = positionals[0];
  if (!id) throw new UsageError(`usage: harnessx ${approve ? 'approve' : 'reject'} <workflowId> [--candidate C] [--reason R]`);
  const handle = (await connectClient()).workflow.getHandle(id);
  const status = await handle.query<RunStatus>('status');
  const candidateId = values.candidate ?? status.pendingApproval?.candidateId;
  if (!candidateId) throw new UsageError(`no candidate of "${id}" is waiting for approval`);
  try {
    console.log(await handle.executeUpdate('decide', { args: [{ candidateId, approve, reason: values.reason }] }));
  } catch (e) {
    throw new UsageError(`the run refused: ${(e as Error).cause instanceof Error ? ((e as Error).cause as Error).message : (e as Error).message}`);
  }
}

async function budget(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args: argv, strict: true, allowPositionals: true, options: { rounds: { type: 'string' }, patience: { type: 'string' } } });
  const id = positionals[0];
  if (!id || (values.rounds === undefined && values.patience === undefined)) throw new UsageError('usage: harnessx budget <workflowId> [--rounds N] [--patience P]');
  const change = { rounds: wholeNumber('rounds', values.rounds), patience: wholeNumber('patience', values.patience) };
  try {
    const result = await (await connectClient()).workflow.getHandle(id).executeUpdate('setBudget', { args: [change] });
    console.log(`budget of ${id}: ${JSON.stringify(result)}`);
  } catch (e) {
    throw new UsageError(`the run refused: ${(e as Error).cause instanceof Error ? ((e as Error).cause as Error).message : (e as Error).message}`);
  }
}

/** A harness by id from the store, or a JSON file. */
function loadHarness(ref: string | undefined) {
  if (!ref) throw new UsageError('usage: harnessx diff <harnessA> <harnessB>   (harness ids or JSON files)');
  if (/^hx-[0-9a-f]{16}$/.test(ref)) {
    try {
      return new ArtifactStore(dataDir()).getHarness(ref);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  }
  return readHarnessFile(ref, 'sim:small');
}

async function replay(id: string | undefined, argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, strict: true, options: { save: { type: 'string' } } });
  if (!id) throw new UsageError('usage: harnessx replay <workflowId> [--save history.json]');
  installRuntime();
  const client = await connectClient();
  const runs: string[] = [];
  for await (const w of client.workflow.list({ query: `WorkflowId = "${id.replace(/"/g, '')}"` })) runs.push(w.runId);
  if (!runs.length) throw new UsageError(`no workflow "${id}"`);
  let failures = 0;
  for (const runId of runs.reverse()) {
    const history = await client.workflow.getHandle(id, runId).fetchHistory();
    if (values.save) writeFileSync(runs.length > 1 ? values.save.replace(/(\.json)?$/, `-${runId}.json`) : values.save, historyToJSON(history));
    try {
      await Worker.runReplayHistory({ workflowsPath: require.resolve('../workflows'), dataConverter: dataConverter() }, history, id);
      console.log(`run ${runId}: ${history.events?.length ?? 0} events replayed, deterministic`);
    } catch (e) {
      failures++;
      console.log(`run ${runId}: DETERMINISM VIOLATION: ${(e as Error).message}`);
    }
  }
  if (failures) throw new UsageError(`${failures} run(s) of ${id} do not replay against the current workflow code`);
}

function history(id: string | undefined): void {
  if (!id) throw new UsageError('usage: harnessx history <workflowId>');
  const records = new ArtifactStore(dataDir()).readAudit(id);
  if (!records.length) throw new UsageError(`no audit log for "${id}" in ${dataDir()}`);
  for (const r of records) {
    const p = r.payload as Record<string, unknown>;
    const what =
      r.stage === 'ship' ? `SHIPPED ${p.editKey} → ${r.harnessId}`
      : r.stage === 'gate' && r.kind === 'rollback' ? `rejected ${p.editKey}: ${p.reason}`
      : r.stage === 'gate' ? `gate passed ${p.editKey}`
      : r.stage === 'rollout' ? `pass ${p.passed}/${p.tasks}`
      : p.noop ? `no-op: ${p.noop}`
      : r.stage === 'final' ? `final: train ${pct(p.seedPassRate as number)} → ${pct(p.evolvedPassRate as number)}, test ${pct(p.seedTestPassRate as number)} → ${pct(p.evolvedTestPassRate as number)}`
      : JSON.stringify(p).slice(0, 140);
    console.log(`${r.ts}  round ${String(r.round).padStart(3)}  ${r.stage.padEnd(9)} ${r.kind.padEnd(8)} ${what}`);
  }
}

/** Runs a benchmark's verifier on every reference solution (all must pass) and on corrupted ones (all must fail). */
function checkBenchmarkCommand(argv: string[]): number {
  const { values, positionals } = parseArgs({ args: argv, strict: true, allowPositionals: true, options: { json: { type: 'boolean', default: false } } });
  const name = positionals[0];
  if (!name) throw new UsageError(`usage: harnessx check-benchmark <name> [--json]; benchmarks: ${BENCHMARK_NAMES.join(', ')}`);
  if (!BENCHMARK_NAMES.includes(name)) throw new UsageError(`unknown benchmark "${name}"; available: ${BENCHMARK_NAMES.join(', ')}`);
  const log = say(values.json!);
  const started = Date.now();
  const r = checkBenchmark(getBenchmark(name), (done, total) => log(`  checked ${done}/${total} tasks`));
  log(`${name}: reference solutions accepted ${r.referenceAccepted}/${r.tasks}; corrupted solutions rejected ${r.corruptedRejected}/${r.corrupted} (${Date.now() - started} ms)`);
  for (const [kind, c] of Object.entries(r.byKind)) log(`  ${kind.padEnd(22)} rejected ${c.rejected}/${c.tried}`);
  for (const f of r.failures) log(`  FAIL ${f}`);
  if (values.json) process.stdout.write(JSON.stringify(r) + '\n');
  return r.ok ? 0 : 1;
}

/** Harness–model co-evolution; with --json the last line has harnessOnlyPassRate and coevolvedPassRate. */
async function coevolveCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: { ...RUN_OPTIONS, iterations: { type: 'string' }, 'batch-size': { type: 'string' }, 'meta-agent': { type: 'string' }, 'harness-only': { type: 'boolean', default: false }, 'workflow-id': { type: 'string' } },
  });
  const json = values.json!;
  const log = say(json);
  const raw = {
    benchmark: values.benchmark,
    model: values.model,
    seed: values.seed,
    iterations: wholeNumber('iterations', values.iterations),
    k: wholeNumber('k', values.k),
    batchSize: wholeNumber('batch-size', values['batch-size']),
    metaAgent: values['meta-agent'],
    trainer: values['harness-only'] ? 'none' : 'grpo',
  };
  const parsed = CoevolveInputSchema.safeParse(Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== undefined)));
  if (!parsed.success) throw new UsageError(`invalid options:\n${inputProblems(parsed.error).map((p) => `  - ${p}`).join('\n')}`);
  const modelProblem = checkModelString(parsed.data.model);
  if (modelProblem) throw new UsageError(`--model: ${modelProblem}`);
  await ensureDevServer(log);
  installRuntime();
  const client = await connectClient();
  const worker = await createAegisWorker({ connection: await connectWorker(), dataDir: dataDir() });
  const workflowId = values['workflow-id'] ?? `coevolve-${parsed.data.benchmark}-${new Date().toISOString().replace(/[-:.TZ]/g, '').slice(0, 14)}`;
  const handle = await client.workflow.start('coevolve', { taskQueue: taskQueue(), workflowId, args: [parsed.data] });
  log(`co-evolution ${workflowId} started (${webUiUrl(workflowId)}); ${parsed.data.iterations} iterations, trainer ${parsed.data.trainer}`);
  const result = await worker.runUntil(
    followRun<CoevolveResult, CoevolveStatus>(handle, log, false, '', {
      query: 'coevolveStatus',
      line: (s, t) => ({ key: `${s.iteration}|${s.lastEvent}`, text: `[${t}s] iteration ${s.iteration}/${s.iterations} · harness ${s.harnessId} · checkpoint ${s.checkpointId} · ${s.lastEvent}` }),
    }),
  );
  log('');
  log(`held-out test pass@${parsed.data.k} (${result.testTasks} tasks): seed ${pct(result.seedPassRate)} · harness-only ${pct(result.harnessOnlyPassRate)} · co-evolved ${pct(result.coevolvedPassRate)}`);
  log(`final checkpoint ${result.checkpoint.id} (${result.checkpoint.model}); harness ${result.harnessId}; ${result.shipped} harness edit(s) shipped`);
  log(`GRPO data: npx harnessx export-grpo ${workflowId} --format trl --out grpo.jsonl`);
  if (json) process.stdout.write(JSON.stringify(result) + '\n');
}

/** Exports a co-evolution run's replay buffer as a GRPO dataset (TRL JSONL or verl parquet). */
async function exportGrpoCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args: argv, strict: true, allowPositionals: true, options: { format: { type: 'string', default: 'trl' }, out: { type: 'string' }, json: { type: 'boolean', default: false } } });
  const runId = positionals[0];
  if (!runId) throw new UsageError('usage: harnessx export-grpo <runId> --format trl|verl --out PATH');
  if (values.format !== 'trl' && values.format !== 'verl') throw new UsageError(`--format must be trl or verl, got "${values.format}"`);
  const store = new ArtifactStore(dataDir());
  const client = await connectClient();
  let result: CoevolveResult;
  try {
    result = await client.workflow.getHandle(runId).result();
  } catch (e) {
    throw new UsageError(`no finished co-evolution run "${runId}": ${(e as Error).message}`);
  }
  if (!result?.bufferRef) throw new UsageError(`run "${runId}" has no replay buffer (is it a coevolve run?)`);
  const out = values.out ?? `${runId}.${values.format === 'trl' ? 'trl.jsonl' : 'verl.parquet'}`;
  const written = exportGrpoFile(store, result.bufferRef, result.benchmark, values.format, out);
  say(values.json!)(`wrote ${written.rows} trajectories to ${written.path}`);
  if (values.json) process.stdout.write(JSON.stringify(written) + '\n');
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case undefined:
      case 'help':
      case '--help':
        console.log(HELP);
        return 0;
      case 'install-cli': {
        const postinstall = rest.includes('--postinstall');
        try {
          const found = findTemporalCli();
          if (found) console.log(`Temporal CLI: ${found.path} (from ${found.source})`);
          else if (connectionSettings().external) console.log('TEMPORAL_ADDRESS is set: not building the Temporal CLI.');
          else console.log(`Temporal CLI: ${await ensureTemporalCli()}`);
        } catch (e) {
          if (!postinstall) throw e;
          // npm install must still succeed (a user may point at a cluster); start and tests say what is missing.
          console.warn(`warning: ${(e as Error).message}`);
        }
        return 0;
      }
      case 'start':
        await evolve(rest, true);
        return 0;
      case 'evolve':
        await evolve(rest, false);
        return 0;
      case 'train-job':
        if (!rest[0]) throw new UsageError('usage: harnessx train-job <jobDir> (started by the trainer activity)');
        return runTrainJob(rest[0]);
      case 'coevolve':
        await coevolveCommand(rest);
        return 0;
      case 'export-grpo':
        await exportGrpoCommand(rest);
        return 0;
      case 'check-benchmark':
        return checkBenchmarkCommand(rest);
      case 'compare':
        await compare(rest);
        return 0;
      case 'rollout':
        await rollout(rest);
        return 0;
      case 'server':
        await ensureDevServer((l) => console.log(l), { foreground: true });
        return 0;
      case 'worker': {
        await ensureDevServer((l) => console.log(l));
        installRuntime();
        const worker = await createAegisWorker({ connection: await connectWorker(), dataDir: dataDir() });
        console.log(`AEGIS worker polling ${taskQueue()} on ${connectionSettings().address}; Ctrl-C to stop.`);
        await worker.run();
        return 0;
      }
      case 'status':
      case 'pause':
      case 'resume':
      case 'stop':
        await control(command, rest[0]);
        return 0;
      case 'history':
        history(rest[0]);
        return 0;
      case 'approve':
      case 'reject':
        await decide(command === 'approve', rest);
        return 0;
      case 'budget':
        await budget(rest);
        return 0;
      case 'diff':
        console.log(formatDiff(diffHarnesses(loadHarness(rest[0]), loadHarness(rest[1]))));
        return 0;
      case 'lineage': {
        if (!rest[0]) throw new UsageError('usage: harnessx lineage <workflowId>');
        const tree = buildLineage(new ArtifactStore(dataDir()).readAudit(rest[0]));
        if (!tree) throw new UsageError(`no audit log for "${rest[0]}" in ${dataDir()}`);
        console.log(formatLineage(tree));
        return 0;
      }
      case 'report': {
        const { values, positionals } = parseArgs({ args: rest, strict: true, allowPositionals: true, options: { out: { type: 'string' } } });
        if (!positionals[0]) throw new UsageError('usage: harnessx report <workflowId> [--out report.html]');
        let data;
        try {
          data = loadRun(new ArtifactStore(dataDir()), positionals[0]);
        } catch (e) {
          throw new UsageError((e as Error).message);
        }
        const out = values.out ?? `report-${positionals[0]}.html`;
        writeFileSync(out, buildReport(data));
        console.log(`wrote ${out}`);
        return 0;
      }
      case 'replay':
        await replay(rest[0], rest.slice(1));
        return 0;
      case 'codec-server': {
        const { values } = parseArgs({ args: rest, strict: true, options: { port: { type: 'string', default: '8888' } } });
        if (!process.env.HARNESSX_CODEC_KEY) throw new UsageError('set HARNESSX_CODEC_KEY (the same key the workers use)');
        const server = createCodecServer({ codec: new AesGcmCodec(process.env.HARNESSX_CODEC_KEY), authToken: process.env.HARNESSX_CODEC_AUTH });
        server.listen(Number(values.port), '127.0.0.1', () =>
          console.log(`codec endpoint on http://127.0.0.1:${values.port} (set it in the Web UI's codec server settings)${process.env.HARNESSX_CODEC_AUTH ? '; requires the bearer token' : ''}`),
        );
        await new Promise(() => undefined);
        return 0;
      }
      default:
        throw new UsageError(`unknown command "${command}"\n\n${HELP}`);
    }
  } catch (e) {
    if (e instanceof UsageError || e instanceof TemporalCliMissing || e instanceof ProviderError || (e as { code?: string }).code?.startsWith?.('ERR_PARSE_ARGS')) {
      console.error(`harnessx: ${(e as Error).message}`);
      return 2;
    }
    throw e;
  }
}
