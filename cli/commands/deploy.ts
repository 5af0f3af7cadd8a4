import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/client';
import { deploymentInputSchema, deploymentWorkflowId } from '../../aegis/live/deployment-input';
import { connectionSettings, taskQueue, webUiUrl } from '../../temporal.config';
import { connectClient } from '../../workers/connection';
import type { DeploymentStatus } from '../../workflows/deployment';
import { UsageError } from '../errors';
import { readBoundedText } from '../../harness/bounded-file';
import { harnessId as harnessIdOf } from '../../harness/config';
import { liveBenchLines } from '../deploy-bench/live-summary';
import { liveBenchDeploymentInput, playLiveWorkload } from '../deploy-bench/live-workload';
import { idTimestamp, startLocalWorker } from '../local-worker';
import { checkModelFlag, type Commands, parseOptions, readVerifiedHarness, seedHarnessInput, suiteFlag, validInput, wholeNumber } from '../options';
import { printJson, say } from '../output';
import { lineWidth } from '../progress-line';
import { deploymentStatusLines } from '../status-lines';
import { cliStore } from '../store';

const USAGE = `usage: harnessx deploy start|status|pause|resume|stop|rollback|approve|reject|canary|bench <name> [options]
  start <name> --suite S [--config FILE] [--model M] [--harness file.json] [--meta-agent rules|MODEL] [--seed S]
        [--window-runs N] [--canary-share X] [--canary-min-runs N] [--canary-max-runs N] [--budget-tokens N]
        [--budget-usd X] [--swap between-runs|between-steps] [--ttl-ms N] [--approval auto|human] [--keep-only-digests]
        [--judge-rubric FILE]   the rubric the harness's judge model scores live runs by
  status <name> [--json]     champion, canary, windows with pass rates and intervals, spend, next round
  rollback <name> [--reason R]   withdraw the canary, or go back to the previous champion
  approve|reject <name> [--reason R]   (--approval human) the candidate that passed the offline check goes out
        as the canary, or is set aside (status shows which candidate waits)
  canary <name> --harness file.json [--reason R]   put your own candidate out as the canary (no offline check;
        the canary's sequential test decides it)
  bench --suite S [--model M] [--runs N] [--concurrency N] [--swap between-runs|between-steps]
        [--inject-bad-candidate] [--window-runs N] [--canary-share X] [--canary-min-runs N] [--canary-max-runs N]
        [--seed S] [--pace rounds|none] [--latency-ms N] [--json]
        play a live workload through createAgent against a new deployment, as a product would`;

const START_OPTIONS = {
  suite: { type: 'string' },
  benchmark: { type: 'string' },
  config: { type: 'string' },
  model: { type: 'string', default: 'sim:small' },
  harness: { type: 'string' },
  'meta-agent': { type: 'string' },
  seed: { type: 'string' },
  'window-runs': { type: 'string' },
  'canary-share': { type: 'string' },
  'canary-min-runs': { type: 'string' },
  'canary-max-runs': { type: 'string' },
  'budget-tokens': { type: 'string' },
  'budget-usd': { type: 'string' },
  swap: { type: 'string' },
  'ttl-ms': { type: 'string' },
  approval: { type: 'string' },
  'keep-only-digests': { type: 'boolean' },
  'judge-rubric': { type: 'string' },
  json: { type: 'boolean', default: false },
} as const;

function decimal(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got "${v}"`);
  return n;
}

/** The rubric file's text, bounded (64 KiB read; the input allows 4000 characters and says so). */
function rubricFile(path: string): string {
  try {
    return readBoundedText(path, 'the rubric file', 64 * 1024);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(`--judge-rubric ${path}: ${code ? `cannot read it (${code})` : (e as Error).message}`);
  }
}

/** `deploy start`: the deployment's workflow, on the workers' task queue (run `harnessx worker` where it should live). */
async function start(args: string[]): Promise<void> {
  const { values, positionals } = parseOptions(args, START_OPTIONS);
  const name = positionals[0];
  if (!name) throw new UsageError(USAGE);
  const benchmark = await suiteFlag({ ...values, benchmark: values.benchmark ?? 'blocksworld' });
  const input = validInput(deploymentInputSchema(), {
    name,
    benchmark,
    model: values.model,
    metaAgent: values['meta-agent'],
    seed: values.seed,
    seedHarness: await seedHarnessInput(values.harness, values.model, benchmark),
    window: { runs: wholeNumber('window-runs', values['window-runs']) },
    canary: { share: decimal('canary-share', values['canary-share']), minRuns: wholeNumber('canary-min-runs', values['canary-min-runs']), maxRuns: wholeNumber('canary-max-runs', values['canary-max-runs']) },
    budgetPerDay: { tokens: wholeNumber('budget-tokens', values['budget-tokens']), usd: decimal('budget-usd', values['budget-usd']) },
    swap: values.swap,
    ttlMs: wholeNumber('ttl-ms', values['ttl-ms']),
    approval: values.approval,
    keepOnlyDigests: values['keep-only-digests'],
    ...(values['judge-rubric'] ? { judge: { rubric: rubricFile(values['judge-rubric']) } } : {}),
  });
  checkModelFlag('--model', input.model);
  checkModelFlag('--meta-agent', input.metaAgent, { allowRules: true });
  const workflowId = deploymentWorkflowId(name);
  const client = await connectClient();
  try {
    await client.workflow.start('deployHarness', { taskQueue: taskQueue(), workflowId, args: [input] });
  } catch (e) {
    if (e instanceof WorkflowExecutionAlreadyStartedError) throw new UsageError(`deployment "${name}" is already running (workflow ${workflowId}); see harnessx deploy status ${name}`);
    throw e;
  }
  if (values.json) console.log(JSON.stringify({ name, workflowId, webUi: webUiUrl(workflowId) }));
  else console.log(`deployment ${name} started (workflow ${workflowId}, ${webUiUrl(workflowId)}); a worker must be running: npx harnessx worker`);
}

async function handleOf(name: string | undefined, command: string) {
  if (!name) throw new UsageError(USAGE);
  const workflowId = deploymentWorkflowId(name);
  const handle = (await connectClient()).workflow.getHandle(workflowId);
  try {
    const description = await handle.describe();
    if (description.status.name !== 'RUNNING' && command !== 'status') throw new UsageError(`cannot ${command} deployment "${name}": it is ${description.status.name.toLowerCase()}`);
    return { handle, workflowId, running: description.status.name === 'RUNNING', status: description.status.name };
  } catch (e) {
    if (e instanceof WorkflowNotFoundError) throw new UsageError(`no deployment "${name}" (workflow ${workflowId}) in namespace ${connectionSettings().namespace}`);
    throw e;
  }
}

/** `deploy status`: the status query (or the final status of a stopped deployment); --json prints it whole. */
async function status(args: string[]): Promise<void> {
  const { values, positionals } = parseOptions(args, { json: { type: 'boolean', default: false } });
  const { handle, running, status: workflowStatus } = await handleOf(positionals[0], 'status');
  const s: DeploymentStatus = running ? await handle.query<DeploymentStatus>('deploymentStatus') : ((await handle.result()) as DeploymentStatus);
  if (values.json) return void console.log(JSON.stringify({ workflowStatus, ...(s as DeploymentStatus) }));
  const lines = deploymentStatusLines(s, workflowStatus, webUiUrl(deploymentWorkflowId(s.name)), lineWidth(process.stdout));
  console.log(lines.join('\n'));
}

async function signal(command: 'pause' | 'resume' | 'stop', args: string[]): Promise<void> {
  const { handle, workflowId } = await handleOf(args[0], command);
  await handle.signal(command);
  console.log(`sent ${command} to ${workflowId}${command === 'pause' ? ' (evolution pauses; serving and reports go on)' : ''}`);
}

async function rollback(args: string[]): Promise<void> {
  const { values, positionals } = parseOptions(args, { reason: { type: 'string' } });
  const { handle } = await handleOf(positionals[0], 'rollback');
  try {
    const done = (await handle.executeUpdate('rollback', { args: [{ reason: values.reason }] })) as { harnessId: string };
    console.log(`deployment ${positionals[0]} now serves ${done.harnessId}; agents pick it up within their TTL`);
  } catch (e) {
    const cause = (e as Error).cause;
    throw new UsageError(`the deployment refused: ${cause instanceof Error ? cause.message : (e as Error).message}`);
  }
}

/** `deploy approve|reject`: the decision on the candidate waiting for approval (the status names it). */
async function decide(approve: boolean, args: string[]): Promise<void> {
  const { values, positionals } = parseOptions(args, { reason: { type: 'string' } });
  const { handle } = await handleOf(positionals[0], approve ? 'approve' : 'reject');
  const waiting = (await handle.query<DeploymentStatus>('deploymentStatus')).awaitingApproval;
  if (!waiting) throw new UsageError(`deployment ${positionals[0]}: no candidate is waiting for approval (see harnessx deploy status ${positionals[0]})`);
  try {
    await handle.executeUpdate('decide', { args: [{ harnessId: waiting, approve, reason: values.reason }] });
    console.log(approve ? `deployment ${positionals[0]}: approved ${waiting}; it goes out as the canary` : `deployment ${positionals[0]}: rejected ${waiting}; the round checks its next candidate`);
  } catch (e) {
    const cause = (e as Error).cause;
    throw new UsageError(`the deployment refused: ${cause instanceof Error ? cause.message : (e as Error).message}`);
  }
}

/** `deploy canary`: an operator's own harness to the canary's share of traffic; the sequential test promotes or rolls it back. */
async function canary(args: string[]): Promise<void> {
  const { values, positionals } = parseOptions(args, { harness: { type: 'string' }, reason: { type: 'string' } });
  if (!values.harness) throw new UsageError(`deploy canary: --harness file.json is required\n${USAGE}`);
  const { handle } = await handleOf(positionals[0], 'canary');
  const status = await handle.query<DeploymentStatus>('deploymentStatus');
  const config = await readVerifiedHarness(values.harness, status.model, status.benchmark);
  const harnessId = await cliStore().putHarness(config);
  if (harnessId !== harnessIdOf(config)) throw new Error(`the store gave ${harnessId} for a harness whose content id is ${harnessIdOf(config)}`);
  try {
    const done = (await handle.executeUpdate('canary', { args: [{ harnessId, config, reason: values.reason }] })) as { share: number };
    console.log(`deployment ${status.name}: ${harnessId} serves ${(done.share * 100).toFixed(0)}% of run keys as the canary; see harnessx deploy status ${status.name}`);
  } catch (e) {
    const cause = (e as Error).cause;
    throw new UsageError(`the deployment refused: ${cause instanceof Error ? cause.message : (e as Error).message}`);
  }
}

const BENCH_OPTIONS = {
  suite: { type: 'string' },
  benchmark: { type: 'string' },
  config: { type: 'string' },
  model: { type: 'string', default: 'sim:small' },
  'meta-agent': { type: 'string' },
  seed: { type: 'string', default: 'harnessx' },
  runs: { type: 'string', default: '600' },
  concurrency: { type: 'string', default: '8' },
  swap: { type: 'string' },
  'inject-bad-candidate': { type: 'boolean', default: false },
  'window-runs': { type: 'string' },
  'canary-share': { type: 'string' },
  'canary-min-runs': { type: 'string' },
  'canary-max-runs': { type: 'string' },
  pace: { type: 'string', default: 'rounds' },
  'latency-ms': { type: 'string' },
  name: { type: 'string' },
  json: { type: 'boolean', default: false },
} as const;

/**
 * `deploy bench`: a new deployment on this machine's worker, and a live workload played against it through
 * createAgent exactly as a product plays it. The last line of --json is the LiveBenchSummary.
 */
async function bench(args: string[]): Promise<void> {
  const { values } = parseOptions(args, BENCH_OPTIONS);
  const log = say(values.json);
  const benchmark = await suiteFlag({ ...values, benchmark: values.benchmark ?? 'blocksworld' });
  const runs = wholeNumber('runs', values.runs)!;
  const concurrency = wholeNumber('concurrency', values.concurrency)!;
  if (runs < 1 || concurrency < 1) throw new UsageError('--runs and --concurrency must be at least 1');
  if (values.pace !== 'rounds' && values.pace !== 'none') throw new UsageError(`--pace must be "rounds" or "none", got "${values.pace}"`);
  const name = values.name ?? `bench-${idTimestamp()}`;
  const input = validInput(
    deploymentInputSchema(),
    liveBenchDeploymentInput({
      name,
      benchmark,
      model: values.model,
      seed: values.seed,
      metaAgent: values['meta-agent'],
      swap: values.swap as 'between-runs' | 'between-steps' | undefined,
      windowRuns: wholeNumber('window-runs', values['window-runs']),
      canaryShare: decimal('canary-share', values['canary-share']),
      canaryMinRuns: wholeNumber('canary-min-runs', values['canary-min-runs']),
      canaryMaxRuns: wholeNumber('canary-max-runs', values['canary-max-runs']),
    }),
  );
  checkModelFlag('--model', input.model, { suite: benchmark });
  checkModelFlag('--meta-agent', input.metaAgent, { allowRules: true });
  const { client, worker } = await startLocalWorker(log, values.config);
  const handle = await client.workflow.start('deployHarness', { taskQueue: taskQueue(), workflowId: deploymentWorkflowId(name), args: [input] });
  log(`deployment ${name} started (${webUiUrl(deploymentWorkflowId(name))}); playing ${runs} runs of ${benchmark} on ${input.model}, ${concurrency} at a time`);
  const result = await worker.runUntil(async () => {
    const played = await playLiveWorkload({
      client,
      name,
      benchmark,
      model: input.model,
      runs,
      concurrency,
      seed: input.seed,
      pace: values.pace as 'rounds' | 'none',
      // Between-steps swaps need runs longer than the agents' TTL: 40 ms per model call, as a fast endpoint's.
      latencyMs: wholeNumber('latency-ms', values['latency-ms']) ?? (input.swap === 'between-steps' ? 40 : 0),
      ...(values['inject-bad-candidate'] ? { injectBadCandidateAfter: Math.floor(runs * 0.4) } : {}),
      log,
    });
    await handle.signal('stop');
    await handle.result();
    return played;
  });
  const { status: _status, played: _played, ...summary } = result;
  for (const line of liveBenchLines(summary)) log(line);
  if (values.json) printJson(summary);
}

export const commands: Commands = {
  deploy: async (args) => {
    const [sub, ...rest] = args;
    switch (sub) {
      case 'start':
        return start(rest);
      case 'status':
        return status(rest);
      case 'pause':
      case 'resume':
      case 'stop':
        return signal(sub, rest);
      case 'rollback':
        return rollback(rest);
      case 'approve':
      case 'reject':
        return decide(sub === 'approve', rest);
      case 'canary':
        return canary(rest);
      case 'bench':
        return bench(rest);
      default:
        throw new UsageError(USAGE);
    }
  },
};
