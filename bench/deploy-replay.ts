/**
 * A deployment under `deploy bench`'s workload with the worker's workflow cache off (`CACHE=0`, the
 * default here): every workflow task and every status query replays the deployment's history from the
 * start, as after an eviction on a loaded worker. Then each run of its continue-as-new chain is replayed
 * against the current code. Prints "Failing ..." lines from the SDK if a replay diverged mid-run.
 * Not part of npm run bench (a few minutes each).
 * Run: node --require tsx/cjs bench/deploy-replay.ts [runs=600] [between-runs|between-steps] [latencyMs=0]
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Runtime } from '@temporalio/worker';
import { deploymentInputSchema } from '../aegis/live/deployment-input';
import { replayRuns } from '../cli/commands/replay';
import { liveBenchDeploymentInput, playLiveWorkload } from '../cli/deploy-bench/live-workload';
import { searchAttributeArgs } from '../cli/dev-server';
import { findTemporalCli } from '../cli/temporal-cli';
import { createAegisWorker } from '../workers/aegis-worker';
import { connectClient } from '../workers/connection';

async function main() {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const runs = Number(process.argv[2] ?? 600);
  const swap = (process.argv[3] ?? 'between-runs') as 'between-runs' | 'between-steps';
  const latencyMs = Number(process.argv[4] ?? 0);
  const env = await TestWorkflowEnvironment.createLocal({ server: { executable: { type: 'existing-path', path: findTemporalCli()!.path }, extraArgs: searchAttributeArgs() } });
  const taskQueue = 'hx-deploy-replay';
  const worker = await createAegisWorker({ connection: env.nativeConnection, namespace: 'default', taskQueue, dataDir: mkdtempSync(join(tmpdir(), 'hx-deploy-replay-')), workflowBundle: await bundleWorkflowCode({ workflowsPath: require.resolve('../workflows'), logger: new DefaultLogger('ERROR') }), maxCachedWorkflows: Number(process.env.CACHE ?? 0) });
  const name = 'replay-check';
  try {
    await worker.runUntil(async () => {
      const input = deploymentInputSchema().parse(liveBenchDeploymentInput({ name, benchmark: 'blocksworld', model: 'sim:small', seed: 'harnessx', swap }));
      const handle = await env.client.workflow.start('deployHarness', { taskQueue, workflowId: `deploy-${name}`, args: [input] });
      const r = await playLiveWorkload({ client: env.client, name, benchmark: 'blocksworld', model: 'sim:small', runs, concurrency: 8, seed: 'harnessx', latencyMs, agentLog: () => undefined, log: (l) => console.log(l) });
      console.log(`workload: ${r.runs} runs, ${r.rounds} rounds, lost ${r.productRunsLost}`);
      await handle.signal('stop');
      await handle.result();
    });
    // The CLI's own client and replay (`harnessx replay deploy-<name>`): a deployment's history pages pass gRPC's default 4 MiB limit.
    process.env.TEMPORAL_ADDRESS = env.address;
    const { failures } = await replayRuns(await connectClient(), `deploy-${name}`, { log: (line) => console.log(line) });
    console.log(failures ? `${failures} run(s) DO NOT REPLAY` : 'every run replays');
  } finally {
    await env.teardown();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
