import { passRate, rolloutTasks } from '../../aegis/rollout';
import { getBenchmark } from '../../benchmarks/registry';
import { harnessId } from '../../harness/config';
import { startTelemetry } from '../../telemetry';
import { UsageError } from '../errors';
import { checkModelFlag, type Commands, endpointLimitsFlag, parseFlags, readVerifiedHarness, RUN_OPTIONS, suiteFlag } from '../options';
import { pct, printJson, say } from '../output';
import { episodeScore, taskScores } from '../rollout-report';

export const ROLLOUT_OPTIONS = {
  ...RUN_OPTIONS,
  split: { type: 'string', default: 'test' },
  tasks: { type: 'string' },
  k: { type: 'string', default: '2' },
  seed: { type: 'string', default: 'harnessx' },
  'endpoint-limits': { type: 'string' },
} as const;

/** Runs one harness on a benchmark split in this process (no workflow) and prints pass@k. */
async function rollout(args: string[]): Promise<void> {
  const values = parseFlags(args, ROLLOUT_OPTIONS);
  const suite = await suiteFlag(values);
  checkModelFlag('--model', values.model, { suite });
  if (!['train', 'validation', 'test'].includes(values.split)) throw new UsageError(`--split must be train, validation or test, got "${values.split}"`);
  if (values.tasks !== undefined && !/^\d+$/.test(values.tasks)) throw new UsageError(`--tasks must be a whole number, got "${values.tasks}"`);
  if (!/^\d+$/.test(values.k) || Number(values.k) < 1) throw new UsageError(`--k must be a whole number ≥ 1, got "${values.k}"`);
  const endpointLimits = endpointLimitsFlag(values['endpoint-limits']);
  // Episode spans go to OTEL_EXPORTER_OTLP_ENDPOINT when it is set (cli/main.ts flushes them at exit).
  startTelemetry();
  const config = await readVerifiedHarness(values.harness, values.model, suite);
  const run = { ...config, model: { ...config.model, main: { ...config.model.main, model: values.model } } };
  const benchmark = getBenchmark(suite);
  let ids = benchmark.tasks().filter((t) => t.split === values.split).map((t) => t.id);
  if (values.tasks !== undefined) ids = ids.slice(0, Number(values.tasks));
  const log = say(values.json);
  const started = Date.now();
  const scored: ReturnType<typeof episodeScore>[] = [];
  const { episodes, outcomes } = await rolloutTasks({
    benchmark, config: run, harnessId: harnessId(run), taskIds: ids, k: Number(values.k), seed: values.seed, keepTraces: false, endpointLimits,
    onTrace: (trace) => scored.push(episodeScore(trace)),
    onEpisode: (done, total) => {
      if (done % 50 === 0) log(`  ${done}/${total} episodes`);
    },
  });
  const result = { benchmark: benchmark.name, model: values.model, harnessId: harnessId(run), split: values.split, passRate: passRate(outcomes), tasks: outcomes.length, episodes, seconds: (Date.now() - started) / 1000 };
  log(`${result.harnessId} on ${result.benchmark}/${result.split} with ${result.model}: pass@${values.k} ${pct(result.passRate)} over ${result.tasks} tasks (${result.episodes} episodes, ${result.seconds.toFixed(1)} s)`);
  if (values.json) printJson({ ...result, perTask: taskScores(outcomes, scored) });
}

export const commands: Commands = { rollout };
