import { evolveInputSchema } from '../../aegis/run-input';
import { taskQueue, webUiUrl } from '../../temporal.config';
import type { RunStatus, RunSummary } from '../../workflows/evolve-harness';
import { UsageError } from '../errors';
import { idTimestamp, startLocalWorker } from '../local-worker';
import { checkModelFlag, type Commands, parseFlags, RUN_OPTIONS, seedHarnessInput, validInput, wholeNumber } from '../options';
import { pct, printJson, say } from '../output';
import { EVOLVE_PROGRESS, followRun } from '../progress';

const EVOLVERS = ['aegis', 'single-agent', 'random', 'reflective-prompt'] as const;

export const COMPARE_OPTIONS = {
  ...RUN_OPTIONS,
  evolvers: { type: 'string', default: EVOLVERS.join(',') },
  'meta-agent': { type: 'string', default: 'rules' },
  rounds: { type: 'string' },
  'batch-size': { type: 'string' },
  'validation-size': { type: 'string' },
  'max-tokens': { type: 'string' },
} as const;

/**
 * Runs AEGIS and baselines on the same tasks, seeds and budget (one workflow each, same gate, same records)
 * and prints one table; the static harness is the shared seed harness, evaluated on the same tasks.
 */
async function compare(args: string[]): Promise<void> {
  const values = parseFlags(args, COMPARE_OPTIONS);
  const json = values.json;
  const log = say(json);
  const evolvers = values.evolvers.split(',').map((e) => e.trim()).filter(Boolean);
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
    seedHarness: await seedHarnessInput(values.harness, values.model, values.benchmark),
  };
  const inputs = evolvers.map((evolver) => validInput(evolveInputSchema(), { ...base, evolver }));
  checkModelFlag('--model', inputs[0].model, { allowRules: true });
  checkModelFlag('--meta-agent', inputs[0].metaAgent, { allowRules: true });

  const { client, worker } = await startLocalWorker(log);
  const stamp = idTimestamp();
  const rows: Array<RunSummary & { evolver: string }> = [];
  await worker.runUntil(async () => {
    for (const input of inputs) {
      const workflowId = `compare-${input.evolver}-${input.benchmark}-${stamp}`;
      const handle = await client.workflow.start('evolveHarness', { taskQueue: taskQueue(), workflowId, args: [input] });
      log(`${input.evolver}: run ${workflowId} (${webUiUrl(workflowId)})`);
      rows.push({ ...(await followRun<RunSummary, RunStatus>(handle, log, EVOLVE_PROGRESS, { prefix: `  ${input.evolver} ` })), evolver: input.evolver });
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
  if (json) printJson({ benchmark: inputs[0].benchmark, model: inputs[0].model, metaAgent: inputs[0].metaAgent, seed: inputs[0].seed, k: inputs[0].k, trainTasks: first.trainTasks, testTasks: first.testTasks, rows: table });
}

export const commands: Commands = { compare };
