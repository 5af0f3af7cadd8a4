import { TASK_QUEUE } from '../temporal.config';
import { commands as audit } from './commands/audit';
import { commands as checkBenchmark } from './commands/check-benchmark';
import { commands as cluster } from './commands/cluster';
import { commands as codecServer } from './commands/codec-server';
import { commands as coevolve } from './commands/coevolve';
import { commands as compare } from './commands/compare';
import { commands as control } from './commands/control';
import { commands as deploy } from './commands/deploy';
import { commands as evolve } from './commands/evolve';
import { commands as exportGrpo } from './commands/export-grpo';
import { commands as installCli } from './commands/install-cli';
import { commands as processors } from './commands/processors';
import { commands as replay } from './commands/replay';
import { commands as rollout } from './commands/rollout';
import { commands as runTask } from './commands/run';
import { commands as server } from './commands/server';
import { commands as trainJob } from './commands/train-job';
import { commands as worker } from './commands/worker';
import { checkEndpointEnvironment } from '../models/endpoint-limiter';
import { EndpointLimitsError } from '../models/endpoint-limits';
import { shutdownTelemetry } from '../telemetry';
import { reportFailure, UsageError } from './errors';
import type { Commands } from './options';

const HELP = `harnessx — evolve LLM agent harnesses with AEGIS on Temporal

  harnessx start [--suite S] [--config FILE]   run AEGIS (blocksworld, sim:small by default; starts what is missing)
  harnessx evolve [options] [--json]      the same, non-interactive
      --suite S (blocksworld; --benchmark is the same)  --config FILE  --model M (sim:small)  --rounds N (6)  --seed S  --patience P (3)
      --k K (2)  --batch-size N (40)  --validation-size N (30)  --candidates K (4)  --harness file.json
      --meta-agent rules|MODEL (rules; e.g. anthropic:claude-opus-4-6)  --evolver aegis|single-agent|random|reflective-prompt
      --strategy global|ensemble (global)  --gating seesaw|statistical (seesaw)
      --min-unseen-gain N (1: validation tasks a candidate must unlock to ship; 0: a gain anywhere, as before)
      --endpoint-limits L (model calls in flight per endpoint: "openai-compatible=64" or JSON; see README)
      --max-tokens N  --max-usd X (evolution budget)  --max-measurement-tokens N (held-out tracking, final evaluation)
      --gate-chunk N (tasks in a sequential gate's first chunk; default 8, or enough to fill a local endpoint)
      --overlap auto|on|off (stages that do not depend on each other run at once; auto: where the endpoint is the limit)
      --library full|core (full; core: the 15 pre-#30 processor types + code, no bundles)
      --no-worker (start the run without joining as a worker: workers run elsewhere; also HARNESSX_LOCAL_WORKER=off)
  harnessx coevolve [--suite S] [--config FILE] [--model M] [--iterations N] [--batch-size N] [--k K] [--harness-only]
      [--endpoint-limits L] [--json]
                                          harness–model co-evolution (GRPO); compares with harness-only on held-out tasks
  harnessx export-grpo <runId> --format trl|verl [--out PATH]   the run's replay buffer as a GRPO dataset
  harnessx check-benchmark [suite] [--config FILE] [--json]   (suite: optional when the config has one) the verifier accepts every reference solution and rejects corrupted ones
  harnessx compare [--evolvers aegis,single-agent,random,reflective-prompt] [--meta-agent rules|MODEL]
      [--suite S] [--config FILE] [--model M] [--rounds N] [--seed S] [--batch-size N] [--max-tokens N]
      [--endpoint-limits L] [--library full|core] [--json]
                                          AEGIS vs baselines on the same tasks, seeds and budget; one table
  harnessx rollout --suite S [--config FILE] --model M [--harness file.json] [--split train|validation|test] [--tasks N] [--k K]
      [--endpoint-limits L] [--json]
  harnessx run [--harness file.json] [--model M] [--max-steps N] [--seed S] [--json] "task text"
                                          run one task with a harness in this process (no Temporal), printing
                                          each step as it happens (--json: one JSON object per step, then the result)
  harnessx server                         start the Temporal dev server (SQLite, Web UI on :8233), or reuse it
  harnessx cluster up|status|down [--port-base N] [--json|--env] [--purge]
                                          a production-style local deployment: PostgreSQL, Temporal server, Web UI, S3
  harnessx worker [--config FILE]         run an AEGIS worker on task queue ${TASK_QUEUE} (HARNESSX_TASK_QUEUE)
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
  harnessx deploy start|status|pause|resume|stop|rollback <name>   a live deployment that evolves from its traffic (README)
  harnessx processors [--json]            the processor library and its bundles (--json: last line { processors, bundles })

Environment: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_CERT/KEY (use a cluster),
TEMPORAL_CLI_PATH (use this CLI binary), HARNESSX_CONFIG (the suites config when --config is not given; else
harnessx.config.{ts,mts,js,mjs,cjs,json} in the working directory), HARNESSX_DATA_DIR (artifact store), HARNESSX_CODEC_KEY (encrypt payloads),
HARNESSX_DEBUG=1 (print a failure's full error and stack), HARNESSX_ENDPOINT_LIMITS (model calls in flight per
endpoint, e.g. "openai-compatible=32;anthropic=4,rpm=50"), HARNESSX_RATE_LIMIT_WAIT_S (longest wait on 429s per call).
Exit codes: 0 done, 1 failed (a failed write, an unexpected error), 2 bad command, flags or input.`;

/** Every command by name; each file under commands/ holds one command or a group of related ones. */
const COMMANDS: Commands = {
  ...installCli,
  ...evolve,
  ...trainJob,
  ...coevolve,
  ...exportGrpo,
  ...checkBenchmark,
  ...compare,
  ...rollout,
  ...runTask,
  ...server,
  ...cluster,
  ...worker,
  ...control,
  ...deploy,
  ...audit,
  ...replay,
  ...processors,
  ...codecServer,
};

/** The model-endpoint settings in the environment, checked before any command runs (they apply to every run it starts). */
function checkEnvironment(): void {
  try {
    checkEndpointEnvironment();
  } catch (e) {
    if (e instanceof EndpointLimitsError) throw new UsageError(e.message);
    throw e;
  }
}

/** Runs one command line; returns the exit code. Failures are printed here (see reportFailure), never thrown. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  // console.log ignores write errors (a full disk, a closed pipe); the stream still emits them. Any command
  // whose output could not be written exits non-zero, whichever way it printed.
  let outputError: NodeJS.ErrnoException | null = null;
  const onOutputError = (e: NodeJS.ErrnoException) => (outputError ??= e);
  process.stdout.on('error', onOutputError);
  const withOutputChecked = async (code: number): Promise<number> => {
    await new Promise((resolveTick) => setImmediate(resolveTick));
    process.stdout.off('error', onOutputError);
    if (!outputError || code !== 0) return code;
    process.stderr.write(`harnessx: could not write the output (${outputError.code ?? outputError.message})\n`);
    return 1;
  };
  try {
    if (command === undefined || command === 'help' || command === '--help') {
      console.log(HELP);
      return await withOutputChecked(0);
    }
    const run = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
    if (!run) throw new UsageError(`unknown command "${command}"\n\n${HELP}`);
    checkEnvironment();
    return await withOutputChecked((await run(rest)) ?? 0);
  } catch (e) {
    return reportFailure(e);
  } finally {
    // Commands that ran episodes in this process (rollout, a local worker) started telemetry when an OTLP
    // endpoint is set: their last spans are sent before bin/harnessx calls process.exit.
    await shutdownTelemetry().catch(() => undefined);
  }
}
