import { createHash } from 'node:crypto';
import { WorkflowNotFoundError, type Client, type WorkflowHandle } from '@temporalio/client';
import { budgetOvershoot } from '../../aegis/run-budget';
import { evolveSummary, grouped } from '../../aegis/run-labels';
import { EvolveInput, evolveInputSchema } from '../../aegis/run-input';
import { MeanInterval, tokensToTarget } from '../../report/comparison-stats';
import { buildComparisonReport, ComparisonRow, fewSeedsWarning } from '../../report/compare-report';
import { spendByStage } from '../../report/spend-by-stage';
import { taskQueue, webUiUrl } from '../../temporal.config';
import type { RunStatus, RunSummary } from '../../workflows/evolve-harness';
import { BUDGET_OPTIONS, budgetFlags, checkRunBudget } from '../budget-flags';
import { UsageError } from '../errors';
import { startLocalWorker } from '../local-worker';
import { checkModelFlag, type Commands, endpointLimitsFlag, libraryFlag, parseFlags, RUN_OPTIONS, seedHarnessInput, suiteFlag, validInput, wholeNumber } from '../options';
import { pct, printJson, say, writeOutputFile } from '../output';
import { cliStore } from '../store';
import { aggregateArms, ArmAggregate, ArmRun, rateInterval } from '../compare-arms';

export { aggregateArms, rateInterval };
import { EVOLVE_PROGRESS, FollowOptions, followRun, ProgressView } from '../progress';

const EVOLVERS = ['aegis', 'single-agent', 'random', 'reflective-prompt'] as const;
/** Most seeds one comparison repeats over (each seed runs every arm). */
const MAX_SEEDS = 100;
/** Tokens-to-target's default target: the seed harness's held-out test pass rate plus 20 points. */
const DEFAULT_TARGET_GAIN_POINTS = 20;

export const COMPARE_OPTIONS = {
  ...RUN_OPTIONS,
  evolvers: { type: 'string', default: EVOLVERS.join(',') },
  'meta-agent': { type: 'string', default: 'rules' },
  rounds: { type: 'string' },
  'batch-size': { type: 'string' },
  'validation-size': { type: 'string' },
  ...BUDGET_OPTIONS,
  'final-train-tasks': { type: 'string' },
  seeds: { type: 'string', default: '1' },
  'target-gain': { type: 'string', default: String(DEFAULT_TARGET_GAIN_POINTS) },
  wide: { type: 'boolean', default: false },
  report: { type: 'string' },
  'endpoint-limits': { type: 'string' },
  /** Every arm's processor library: full (default) or core (pre-#30 types + code, no bundles). */
  library: { type: 'string' },
} as const;


/** The seeds of a comparison: the given seed alone, or seed-1 … seed-N. */
export function comparisonSeeds(seed: string, count: number): string[] {
  return count === 1 ? [seed] : Array.from({ length: count }, (_, i) => `${seed}-${i + 1}`);
}

/** The arm's workflow id: fixed by its input, so re-running the same command finds (and reuses) its finished run. */
export function armWorkflowId(input: EvolveInput): string {
  const digest = createHash('sha256').update(JSON.stringify(input)).digest('hex').slice(0, 16);
  return `compare-${input.evolver}-${input.benchmark}-${digest}`;
}

/** Every problem a comparison can be refused for before any run starts: seeds and evolvers here, then checkRunBudget. */
function checkComparison(inputs: EvolveInput[], seeds: number): void {
  if (seeds < 1 || seeds > MAX_SEEDS) throw new UsageError(`--seeds must be from 1 to ${MAX_SEEDS}, got ${seeds}`);
  checkRunBudget(inputs[0]);
}

/** A compare arm's progress: its counts include both spends (the prefix names arm and seed). */
const COMPARE_PROGRESS: ProgressView<RunStatus> = {
  ...EVOLVE_PROGRESS,
  counts: (s) => `shipped ${s.shipped} · rejected ${s.rejected} · ${grouped(s.tokens ?? 0)} + ${grouped(s.measurementTokens ?? 0)} tok`,
};

/**
 * The arm's summary: a finished run with this id is reused; a running one is followed (this process's
 * worker picks its tasks up); otherwise the run starts (again, after a failure).
 */
async function runArm(client: Client, input: EvolveInput, log: (line: string) => void, prefix: string, live: FollowOptions['live']): Promise<{ summary: RunSummary; reused: boolean }> {
  const workflowId = armWorkflowId(input);
  let handle: WorkflowHandle | null = client.workflow.getHandle(workflowId);
  try {
    const { status } = await handle.describe();
    if (status.name === 'COMPLETED') {
      log(`${prefix}reusing finished run ${workflowId}`);
      return { summary: (await handle.result()) as RunSummary, reused: true };
    }
    if (status.name !== 'RUNNING') handle = null;
  } catch (e) {
    if (!(e instanceof WorkflowNotFoundError)) throw e;
    handle = null;
  }
  if (handle) log(`${prefix}resuming run ${workflowId}`);
  else {
    handle = await client.workflow.start('evolveHarness', { taskQueue: taskQueue(), workflowId, args: [input], staticSummary: evolveSummary(input), workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY' });
    log(`${prefix}run ${workflowId}`);
  }
  return { summary: await followRun<RunSummary, RunStatus>(handle, log, COMPARE_PROGRESS, { prefix, live }), reused: false };
}

/**
 * Runs AEGIS and baselines as an experiment: every arm gets the same tasks, seeds and evolution budget,
 * each (arm, seed) is its own durable run (re-running the same command reuses finished ones), and every
 * arm is measured by the final evaluation on the same fixed train sample and the held-out test tasks,
 * outside its evolution budget. The static arm is the shared seed harness on the same tasks.
 */
async function compare(args: string[]): Promise<void> {
  const values = parseFlags(args, COMPARE_OPTIONS);
  const json = values.json;
  const log = say(json);
  const evolvers = values.evolvers.split(',').map((e) => e.trim()).filter(Boolean);
  const unknown = evolvers.filter((e) => !(EVOLVERS as readonly string[]).includes(e));
  if (unknown.length || !evolvers.length) throw new UsageError(`--evolvers: unknown ${unknown.map((u) => `"${u}"`).join(', ') || '(none given)'}; choose from ${EVOLVERS.join(', ')}`);
  const seedCount = wholeNumber('seeds', values.seeds) ?? 1;
  const targetGain = wholeNumber('target-gain', values['target-gain']) ?? DEFAULT_TARGET_GAIN_POINTS;
  const baseSeed = values.seed ?? 'compare';
  const benchmark = await suiteFlag(values);
  const base = {
    benchmark,
    model: values.model,
    metaAgent: values['meta-agent'],
    processorLibrary: libraryFlag(values.library),
    rounds: wholeNumber('rounds', values.rounds),
    k: wholeNumber('k', values.k),
    batchSize: wholeNumber('batch-size', values['batch-size']),
    validationSize: wholeNumber('validation-size', values['validation-size']),
    ...budgetFlags(values),
    finalTrainTasks: wholeNumber('final-train-tasks', values['final-train-tasks']),
    seedHarness: await seedHarnessInput(values.harness, values.model, benchmark),
    // Every arm's run input: the arms share the worker's limiter per endpoint.
    endpointLimits: endpointLimitsFlag(values['endpoint-limits']),
  };
  if (seedCount < 1 || seedCount > MAX_SEEDS) throw new UsageError(`--seeds must be from 1 to ${MAX_SEEDS}, got ${seedCount}`);
  const seeds = comparisonSeeds(baseSeed, seedCount);
  const inputs = seeds.map((seed) => evolvers.map((evolver) => validInput(evolveInputSchema(), { ...base, seed, evolver })));
  const first = inputs[0][0];
  checkModelFlag('--model', first.model, { allowRules: true, suite: benchmark });
  checkModelFlag('--meta-agent', first.metaAgent, { allowRules: true });
  checkComparison(inputs[0], seedCount);

  const { client, worker } = await startLocalWorker(log, values.config);
  const rows: ArmRun[] = [];
  const tasks = { train: 0, test: 0 };
  const statics: ArmRun[] = [];
  const total = seeds.length * evolvers.length;
  // One line for every run's Web UI link (each run's own line stays within 100 columns).
  log(`runs in the Web UI: ${webUiUrl('')}<workflow id>`);
  await worker.runUntil(async () => {
    for (const [si, seedInputs] of inputs.entries()) {
      for (const [ai, input] of seedInputs.entries()) {
        const prefix = `[${si * evolvers.length + ai + 1}/${total} ${input.evolver} · ${input.seed}] `;
        const { summary: r, reused } = await runArm(client, input, log, prefix, json ? null : process.stdout);
        if (r.finalEvaluation !== false) Object.assign(tasks, { train: r.trainTasks, test: r.testTasks });
        const target = r.seedTestPassRate === null ? null : r.seedTestPassRate + targetGain / 100;
        rows.push({
          evolver: input.evolver,
          seed: input.seed,
          workflowId: r.workflowId,
          trainPassRate: r.evolvedPassRate,
          testPassRate: r.evolvedTestPassRate,
          rounds: r.rounds,
          shipped: r.shipped,
          rejected: r.rejected,
          tokens: r.tokens,
          costUsd: r.costUsd,
          measurementTokens: r.measurementTokens ?? 0,
          // Summaries written before the overshoot was reported: from the tokens and the cap.
          overshootTokens: r.overshootTokens ?? budgetOvershoot({ maxTokens: input.maxTokens }, { tokens: r.tokens, costUsd: null }).tokens,
          tokensToTarget: target === null ? null : tokensToTarget(r.heldOut ?? [], target),
          reused,
          seedTestPassRate: r.seedTestPassRate,
          heldOut: r.heldOut ?? [],
        });
        if (ai === 0)
          statics.push({ evolver: 'static', seed: input.seed, workflowId: null, trainPassRate: r.seedPassRate, testPassRate: r.seedTestPassRate, rounds: 0, shipped: 0, rejected: 0, tokens: 0, costUsd: 0, measurementTokens: 0, overshootTokens: 0, tokensToTarget: null, reused });
      }
    }
  });
  const allRows = seeds.flatMap((seed) => [...statics.filter((r) => r.seed === seed), ...rows.filter((r) => r.seed === seed)]);
  const arms = aggregateArms([...statics, ...rows], ['static', ...evolvers]);
  const incomparable = rows.filter((r) => r.testPassRate === null).length;

  const ci = (m: MeanInterval | null) => (m === null ? 'n/a' : m.halfWidth === null ? pct(m.mean) : values.wide ? `${pct(m.mean)} ±${(100 * m.halfWidth).toFixed(1)}` : rateInterval(m));
  const num = (m: MeanInterval) => String(Math.round(m.mean));
  const versus = (a: ArmAggregate) => (a.versusAegis ? `${a.versusAegis.meanDifference >= 0 ? '+' : ''}${(100 * a.versusAegis.meanDifference).toFixed(1)}${a.versusAegis.significant ? ' *' : ''}${a.versusAegis.p === null ? '' : ` (p=${a.versusAegis.p.toFixed(3)})`}` : '');
  log('');
  log(`${first.benchmark} · task model ${first.model} · meta-agent ${first.metaAgent} · pass@${first.k} · ${first.rounds} rounds${first.processorLibrary === 'full' ? '' : ` · library ${first.processorLibrary}`}`);
  log(`  evolution budget ${first.maxTokens ? `${grouped(first.maxTokens)} tokens` : '∞ tokens'}${first.maxUsd ? `, $${first.maxUsd}` : ''} · ${seeds.length} seed${seeds.length > 1 ? 's' : ''}: ${seeds.length > 4 ? `${seeds.slice(0, 2).join(', ')} … ${seeds[seeds.length - 1]}` : seeds.join(', ')}`);
  log(`  measured outside the evolution budget on the same tasks for every arm: train ${tasks.train} tasks,`);
  log(`  test ${tasks.test} (held out); ${values.wide ? '± is a 95% t-interval over seeds' : '[low–high] is a 95% t-interval over seeds, clipped to 0–100%'}`);
  if (values.wide) {
    log(`  ${'evolver'.padEnd(18)} ${'train'.padStart(13)} ${'test'.padStart(13)} ${'rounds'.padStart(6)} ${'ships'.padStart(5)} ${'rejects'.padStart(7)} ${'tokens'.padStart(9)} ${'cost'.padStart(8)} ${'meas-tok'.padStart(9)} ${'overshoot'.padStart(9)} ${'to-target'.padStart(11)}  AEGIS−arm (test, paired)`);
    for (const a of arms) {
      const cost = a.costUsd === null ? 'n/a' : `$${a.costUsd.mean.toFixed(2)}`;
      const toTarget = a.evolver === 'static' ? '' : a.tokensToTarget.mean === null ? `— 0/${a.seeds}` : `${Math.round(a.tokensToTarget.mean)} ${a.tokensToTarget.reached}/${a.seeds}`;
      log(`  ${a.evolver.padEnd(18)} ${ci(a.trainPassRate).padStart(13)} ${ci(a.testPassRate).padStart(13)} ${num(a.rounds).padStart(6)} ${num(a.shipped).padStart(5)} ${num(a.rejected).padStart(7)} ${num(a.tokens).padStart(9)} ${cost.padStart(8)} ${num(a.measurementTokens).padStart(9)} ${num(a.overshootTokens).padStart(9)} ${toTarget.padStart(11)}  ${versus(a)}`);
    }
  } else {
    // Fits 100 columns: test (the held-out measure) with its interval, train, ships, spend, the paired test.
    log(`  ${'evolver'.padEnd(17)} ${'test (95% interval)'.padStart(22)} ${'train'.padStart(7)} ${'ships'.padStart(5)} ${'tokens'.padStart(11)} ${'to-target'.padStart(9)}  AEGIS−arm`);
    for (const a of arms) {
      const toTarget = a.evolver === 'static' ? '' : `${a.tokensToTarget.reached}/${a.seeds}`;
      log(`  ${a.evolver.padEnd(17)} ${ci(a.testPassRate).padStart(22)} ${pct(a.trainPassRate.mean).padStart(7)} ${num(a.shipped).padStart(5)} ${grouped(a.tokens.mean).padStart(11)} ${toTarget.padStart(9)}  ${versus(a)}`);
    }
  }
  const warning = fewSeedsWarning(seeds.length);
  if (warning) log(`  warning: ${warning}`);
  log(`  * = significant at 5% (paired t-test over seeds)`);
  log(`  to-target = seeds that reached the seed harness's test pass rate + ${targetGain} points`);
  log(`  (mean evolution tokens to it in --wide); overshoot past the budget: largest ${grouped(Math.max(0, ...arms.map((a) => a.maxOvershootTokens)))} tokens.`);
  if (incomparable) log(`  note: ${incomparable} run(s) have no held-out test pass rate (final evaluation skipped or no test split); they are left out of the test columns.`);
  if (values.report) {
    const store = cliStore();
    // Each run's spend by stage from its audit log; a run whose log is not in this store is named in the report.
    const spendOf = async (workflowId: string | null) => {
      if (!workflowId) return null;
      const audit = await store.readAudit(workflowId).catch(() => []);
      return audit.length ? spendByStage(audit) : null;
    };
    const reportRows: ComparisonRow[] = [];
    for (const r of allRows) reportRows.push({ ...r, seedTestPassRate: r.seedTestPassRate ?? null, heldOut: r.heldOut ?? [], spend: await spendOf(r.workflowId) });
    const html = buildComparisonReport({
      benchmark: first.benchmark,
      model: first.model,
      metaAgent: first.metaAgent,
      k: first.k,
      seeds,
      rounds: first.rounds,
      maxTokens: first.maxTokens ?? null,
      targetGainPoints: targetGain,
      trainTasks: tasks.train,
      testTasks: tasks.test,
      rows: reportRows,
      arms,
      generatedAt: new Date().toISOString().replace('T', ' ').slice(0, 19) + ' UTC',
      runUrl: webUiUrl,
    });
    writeOutputFile(values.report, html);
    log(`  wrote ${values.report}`);
  }
  if (json)
    printJson({
      benchmark: first.benchmark,
      model: first.model,
      metaAgent: first.metaAgent,
      processorLibrary: first.processorLibrary,
      seed: baseSeed,
      seeds,
      k: first.k,
      maxTokens: first.maxTokens ?? null,
      maxUsd: first.maxUsd ?? null,
      rounds: first.rounds,
      targetGainPoints: targetGain,
      trainTasks: tasks.train,
      testTasks: tasks.test,
      rows: allRows.map(({ seedTestPassRate: _s, heldOut: _h, ...row }) => row),
      arms,
      warning: warning ?? null,
    });
}

export const commands: Commands = { compare };
