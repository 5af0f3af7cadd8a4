import { evolveSummary } from '../../aegis/run-labels';
import { evolveInputSchema, workflowIdProblem } from '../../aegis/run-input';
import { connectionSettings, taskQueue, webUiUrl } from '../../temporal.config';
import type { RunStatus, RunSummary } from '../../workflows/evolve-harness';
import { BUDGET_OPTIONS, budgetFlags, checkRunBudget } from '../budget-flags';
import { idTimestamp, startLocalWorker } from '../local-worker';
import { UsageError } from '../errors';
import { checkModelFlag, taskModelLabel, type Commands, endpointLimitsFlag, libraryFlag, parseFlags, RUN_OPTIONS, seedHarnessInput, suiteFlag, validInput, wholeNumber } from '../options';
import { pct, printJson, say } from '../output';
import { EVOLVE_PROGRESS, followRun } from '../progress';
import { cliStore, localHarnessFile } from '../store';

export const EVOLVE_OPTIONS = {
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
  'min-unseen-gain': { type: 'string' },
  'endpoint-limits': { type: 'string' },
  'gate-chunk': { type: 'string' },
  overlap: { type: 'string' },
  /** Start the run without joining its task queue as a worker (workers run elsewhere); also HARNESSX_LOCAL_WORKER=off. */
  'no-worker': { type: 'boolean', default: false },
  /** The processor library the meta-agent proposes from: full (default) or core (pre-#30 types + code, no bundles). */
  library: { type: 'string' },
  ...BUDGET_OPTIONS,
} as const;

/** `evolve` (and `start`, the same with faster progress): one AEGIS run with a worker in this process. */
async function evolve(args: string[], interactive: boolean): Promise<void> {
  const values = parseFlags(args, EVOLVE_OPTIONS);
  const json = values.json;
  const log = say(json);
  const benchmark = await suiteFlag(values);
  const input = validInput(evolveInputSchema(), {
    benchmark,
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
    processorLibrary: libraryFlag(values.library),
    strategy: values.strategy,
    gating: values.gating || values['min-unseen-gain'] !== undefined ? { ...(values.gating ? { mode: values.gating } : {}), ...(values['min-unseen-gain'] !== undefined ? { minUnseenGain: wholeNumber('min-unseen-gain', values['min-unseen-gain']) } : {}) } : undefined,
    seedHarness: await seedHarnessInput(values.harness, values.model, benchmark),
    endpointLimits: endpointLimitsFlag(values['endpoint-limits']),
    gateChunk: wholeNumber('gate-chunk', values['gate-chunk']),
    overlap: values.overlap,
    ...budgetFlags(values),
  });
  checkModelFlag('--model', input.model, { suite: benchmark });
  checkModelFlag('--meta-agent', input.metaAgent, { allowRules: true });
  checkRunBudget(input);

  const workflowId = values['workflow-id'] ?? `evolve-${input.benchmark}-${input.model.replace(/[^\w]+/g, '-')}-${idTimestamp()}`;
  // Checked before the workflow starts (and before a local server starts): a bad id would otherwise start it, then fail it at its first line.
  const idProblem = workflowIdProblem(workflowId);
  if (idProblem) throw new UsageError(`--workflow-id: ${idProblem}`);
  const { client, worker } = await startLocalWorker(log, values.config, { noWorker: values['no-worker'] });
  const settings = connectionSettings();
  const handle = await client.workflow.start('evolveHarness', { taskQueue: taskQueue(), workflowId, args: [input], staticSummary: evolveSummary(input) });
  log(`AEGIS run ${workflowId} started on ${settings.address} (namespace ${settings.namespace}).`);
  log(`Follow it in the Temporal Web UI: ${webUiUrl(workflowId)}`);
  log(`Benchmark ${input.benchmark}, task model ${taskModelLabel(input.model)}, ${input.rounds} rounds, pass@${input.k}.`);

  const started = Date.now();
  const summary = await worker.runUntil(followRun<RunSummary, RunStatus>(handle, log, EVOLVE_PROGRESS, { interactive, live: json ? null : process.stdout }));
  const harnessPath = await localHarnessFile(cliStore(), summary.harnessId);
  log('');
  log(`Done in ${Math.round((Date.now() - started) / 1000)} s — ${summary.stopReason}.`);
  log(`                       seed harness   evolved harness`);
  log(`  train pass@${input.k}  (${String(summary.trainTasks).padStart(3)})   ${pct(summary.seedPassRate).padStart(8)}   ${pct(summary.evolvedPassRate).padStart(8)}`);
  log(`  test  pass@${input.k}  (${String(summary.testTasks).padStart(3)})   ${pct(summary.seedTestPassRate).padStart(8)}   ${pct(summary.evolvedTestPassRate).padStart(8)}   (held out: never seen by evolution)`);
  log(`  ${summary.shipped} edit(s) shipped, ${summary.rejected} rejected by the gate.`);
  log(`  Evolved harness ${summary.harnessId}: ${harnessPath}`);
  log(`  Audit: npx harnessx history ${workflowId}   Summary: ${summary.summaryPath}`);
  if (json) printJson({ ...summary, harnessPath, webUi: webUiUrl(workflowId) });
}

export const commands: Commands = {
  start: (args) => evolve(args, true),
  evolve: (args) => evolve(args, false),
};
