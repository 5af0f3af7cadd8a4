import { HarnessLoadError, loadHarness } from '../../library/load-harness';
import { createAgent, type AgentStep } from '../../library/create-agent';
import type { HarnessConfig } from '../../harness/config';
import { seedHarness } from '../../harness/seed';
import { UsageError } from '../errors';
import { checkModelFlag, type Commands, loadConfigFlag, parseOptions, unknownSuiteMessage, wholeNumber } from '../options';
import { getBenchmark, knownBenchmarkNames } from '../../benchmarks/registry';
import { SuiteBenchmark } from '../../suites/suite-benchmark';
import type { ToolProvider } from '../../suites/types';
import { printJson } from '../output';

const RUN_TASK_OPTIONS = {
  harness: { type: 'string' },
  model: { type: 'string' },
  config: { type: 'string' },
  suite: { type: 'string' },
  'max-steps': { type: 'string' },
  seed: { type: 'string', default: 'harnessx' },
  json: { type: 'boolean', default: false },
} as const;

const USAGE = 'usage: harnessx run --harness FILE [--model M] [--config C --suite S] [--max-steps N] [--json] "task text"';

/** Tool output and model text in the readable log: one line, cut to a length a terminal shows. */
function oneLine(text: string, max = 300): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** One readable line per step as it happens; processors' notes are left to --json. */
function describeStep(step: AgentStep): string | null {
  const at = `step ${step.step}`;
  switch (step.type) {
    case 'model': {
      const calls = step.toolCalls.map((c) => `→ ${c.name} ${JSON.stringify(c.args)}`).join(' ');
      const what = [step.text ? `"${oneLine(step.text, 200)}"` : '', calls].filter(Boolean).join(' ');
      return `${at} · model${step.purpose === 'act' ? '' : ` (${step.purpose})`}  ${what || '(empty reply)'}  (${step.usage.inputTokens}+${step.usage.outputTokens} tokens, ${step.latencyMs} ms)`;
    }
    case 'tool':
      if (!step.approved) return `${at} · tool   ${step.call.name} refused by the harness: ${oneLine(step.rejection ?? step.result.output)}`;
      return `${at} · tool   ${step.call.name} ${step.result.ok ? 'ok' : `error${step.result.errorKind ? ` (${step.result.errorKind})` : ''}`}: ${oneLine(step.result.output)}`;
    case 'answer':
      return `${at} · answer ${step.text}`;
    case 'error':
      return `${at} · error  ${step.message}`;
    case 'note':
      return null;
  }
}

/** `--harness`: the file, or the seed harness for --model when none is given. Load problems are usage errors (exit 2). */
function harnessFlag(path: string | undefined, model: string | undefined): HarnessConfig {
  if (path === undefined) return seedHarness(model ?? 'sim:small');
  try {
    return loadHarness(path);
  } catch (e) {
    if (e instanceof HarnessLoadError) throw new UsageError(`--harness: ${e.message}`);
    throw e;
  }
}

/** `--suite S` (with `--config C`, or the config found as evolve finds it): that suite's tools (MCP servers, functions); none without --suite. */
async function suiteTools(config: string | undefined, suite: string | undefined): Promise<ToolProvider[]> {
  if (suite === undefined) {
    if (config !== undefined) throw new UsageError(`--config needs --suite: name the suite whose tools the agent gets\n${USAGE}`);
    return [];
  }
  const { file } = await loadConfigFlag(config);
  if (!knownBenchmarkNames().includes(suite)) throw new UsageError(`--suite: ${unknownSuiteMessage(suite, file)}`);
  const benchmark = getBenchmark(suite);
  if (!(benchmark instanceof SuiteBenchmark)) throw new UsageError(`--suite: "${suite}" is a built-in benchmark; run takes the tools of a suite from your harnessx config`);
  return [...benchmark.toolProviders];
}

/**
 * Runs one task with one harness in this process (no Temporal), printing each step as it happens. Exit 0
 * when the agent answered; 1 when the episode ended without an answer (step budget, harness error).
 */
async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseOptions(args, RUN_TASK_OPTIONS);
  const task = positionals.join(' ').trim();
  if (!task) throw new UsageError(`the task text is missing\n${USAGE}`);
  const tools = await suiteTools(values.config, values.suite);
  const maxSteps = wholeNumber('max-steps', values['max-steps']);
  if (maxSteps === 0) throw new UsageError('--max-steps must be at least 1');
  const harness = harnessFlag(values.harness, values.model);
  const model = values.model ?? harness.model.main.model;
  checkModelFlag(values.model === undefined ? `the harness's main model` : '--model', model);

  // Episode spans go to OTEL_EXPORTER_OTLP_ENDPOINT when it is set (createAgent starts the exporter; cli/main.ts flushes it at exit).
  const json = values.json;
  const log = (line: string) => process.stdout.write(line + '\n');
  const agent = createAgent({
    harness,
    model,
    tools,
    seed: values.seed,
    ...(maxSteps !== undefined ? { maxSteps } : {}),
    onStep: (step) => {
      if (json) printJson(step);
      else {
        const line = describeStep(step);
        if (line !== null) log(line);
      }
    },
  });
  if (!json) log(`harness ${agent.harnessId} · model ${model}`);
  // Ctrl-C stops the run through its signal, so tool sessions (MCP servers) are closed before the exit.
  const controller = new AbortController();
  const onInterrupt = () => controller.abort(new Error('interrupted (SIGINT)'));
  process.once('SIGINT', onInterrupt);
  const started = Date.now();
  try {
    const result = await agent.run(task, { signal: controller.signal });
    const seconds = (Date.now() - started) / 1000;
    if (json) printJson({ type: 'result', answer: result.answer, endReason: result.endReason, steps: result.steps, usage: result.usage, toolCalls: result.toolCalls, harnessId: agent.harnessId, model, seconds });
    else
      log(
        `${result.answer !== null ? 'done' : 'no answer'}: ${result.endReason} after ${result.steps} step(s) · ${result.usage.inputTokens} input / ${result.usage.outputTokens} output tokens · ${seconds.toFixed(1)} s`,
      );
    return result.answer !== null ? 0 : 1;
  } finally {
    process.off('SIGINT', onInterrupt);
  }
}

export const commands: Commands = { run };
