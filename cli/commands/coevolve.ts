import { workflowIdProblem } from '../../aegis/run-input';
import { coevolveInputSchema } from '../../coevolution/coevolve-input';
import { coevolveSummary } from '../../aegis/run-labels';
import { taskQueue, webUiUrl } from '../../temporal.config';
import type { CoevolveResult, CoevolveStatus } from '../../workflows/coevolve';
import { UsageError } from '../errors';
import { idTimestamp, startLocalWorker } from '../local-worker';
import { checkModelFlag, type Commands, endpointLimitsFlag, parseFlags, RUN_OPTIONS, suiteFlag, validInput, wholeNumber } from '../options';
import { pct, printJson, say } from '../output';
import { COEVOLVE_PROGRESS, followRun } from '../progress';

export const COEVOLVE_OPTIONS = {
  ...RUN_OPTIONS,
  iterations: { type: 'string' },
  'batch-size': { type: 'string' },
  'meta-agent': { type: 'string' },
  'harness-only': { type: 'boolean', default: false },
  'workflow-id': { type: 'string' },
  'endpoint-limits': { type: 'string' },
} as const;

/** Harness–model co-evolution; with --json the last line has harnessOnlyPassRate and coevolvedPassRate. */
async function coevolve(args: string[]): Promise<void> {
  const values = parseFlags(args, COEVOLVE_OPTIONS);
  const json = values.json;
  const log = say(json);
  const input = validInput(coevolveInputSchema(), {
    benchmark: await suiteFlag(values),
    model: values.model,
    seed: values.seed,
    iterations: wholeNumber('iterations', values.iterations),
    k: wholeNumber('k', values.k),
    batchSize: wholeNumber('batch-size', values['batch-size']),
    metaAgent: values['meta-agent'],
    trainer: values['harness-only'] ? 'none' : 'grpo',
    endpointLimits: endpointLimitsFlag(values['endpoint-limits']),
  });
  checkModelFlag('--model', input.model, { suite: input.benchmark });

  const workflowId = values['workflow-id'] ?? `coevolve-${input.benchmark}-${idTimestamp()}`;
  // Checked before the workflow starts (and before a local server starts): a bad id would otherwise start it, then fail it at its first line.
  const idProblem = workflowIdProblem(workflowId);
  if (idProblem) throw new UsageError(`--workflow-id: ${idProblem}`);
  const { client, worker } = await startLocalWorker(log, values.config);
  const handle = await client.workflow.start('coevolve', { taskQueue: taskQueue(), workflowId, args: [input], staticSummary: coevolveSummary(input) });
  log(`co-evolution ${workflowId} started (${webUiUrl(workflowId)}); ${input.iterations} iterations, trainer ${input.trainer}`);
  const result = await worker.runUntil(followRun<CoevolveResult, CoevolveStatus>(handle, log, COEVOLVE_PROGRESS, { live: values.json ? null : process.stdout }));
  log('');
  log(`held-out test pass@${input.k} (${result.testTasks} tasks): seed ${pct(result.seedPassRate)} · harness-only ${pct(result.harnessOnlyPassRate)} · co-evolved ${pct(result.coevolvedPassRate)}`);
  log(`final checkpoint ${result.checkpoint.id} (${result.checkpoint.model}); harness ${result.harnessId}; ${result.shipped} harness edit(s) shipped`);
  log(`GRPO data: npx harnessx export-grpo ${workflowId} --format trl --out grpo.jsonl`);
  if (json) printJson(result);
}

export const commands: Commands = { coevolve };
