import { parseJsonQuietly, readBoundedText } from '../harness/bounded-file';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { z } from 'zod';
import { verifyCodeProcessors } from '../aegis/gate';
import { inputProblems } from '../aegis/run-input';
import { PROCESSOR_LIBRARIES, ProcessorLibraryName } from '../aegis/library-scope';
import { BENCHMARK_NAMES, getBenchmark, knownBenchmarkNames } from '../benchmarks/registry';
import { HarnessConfig, HarnessConfigError, parseHarnessConfig } from '../harness/config';
import { capProblems } from '../harness/sandbox/input-bounds';
import { seedHarness } from '../harness/seed';
import { EndpointLimits, EndpointLimitsError, parseEndpointLimitsText } from '../models/endpoint-limits';
import { checkModelString } from '../models/registry';
import { CONFIG_FILE_NAMES, registerConfiguredSuites, SuiteConfigError } from '../suites/load-config';
import { SuiteTaskError } from '../suites/load-tasks';
import { UsageError } from './errors';

/** A command: its arguments after the command name; returns the exit code (nothing: 0). */
export type Command = (args: string[]) => Promise<number | void> | number | void;
export type Commands = Record<string, Command>;

type Options = NonNullable<ParseArgsConfig['options']>;

/** --endpoint-limits: the same forms as HARNESSX_ENDPOINT_LIMITS (JSON or "openai-compatible=32;anthropic=4,rpm=50"); undefined when absent. */
export function endpointLimitsFlag(text: string | undefined): EndpointLimits | undefined {
  if (text === undefined) return undefined;
  try {
    return parseEndpointLimitsText(text, '--endpoint-limits');
  } catch (e) {
    if (e instanceof EndpointLimitsError) throw new UsageError(e.message);
    throw e;
  }
}

/** Options every run-starting command takes. */
export const RUN_OPTIONS = {
  /** The older name of --suite: a built-in benchmark or a suite of the user's config. */
  benchmark: { type: 'string', default: 'blocksworld' },
  suite: { type: 'string' },
  config: { type: 'string' },
  model: { type: 'string', default: 'sim:small' },
  harness: { type: 'string' },
  seed: { type: 'string' },
  k: { type: 'string' },
  json: { type: 'boolean', default: false },
} as const;

/** Parses a command's flags (strict: an unknown flag is a usage error) and its positional arguments. */
// The return types are spelled out (through parseArgs itself) because node:util does not export its result type, and the build emits declarations.
export function parseOptions<O extends Options>(args: string[], options: O): ReturnType<typeof parseArgs<{ args: string[]; options: O; strict: true; allowPositionals: true }>> {
  return parseArgs({ args, options, strict: true, allowPositionals: true });
}

/** Parses flags of a command that takes no positional arguments. */
export function parseFlags<O extends Options>(args: string[], options: O): ReturnType<typeof parseArgs<{ args: string[]; options: O; strict: true }>>['values'] {
  return parseArgs({ args, options, strict: true }).values;
}

/** --library: the processor library a run's meta-agent proposes from ('full' or 'core'); undefined when not given (the schema's default). */
export function libraryFlag(v: string | undefined): ProcessorLibraryName | undefined {
  if (v === undefined) return undefined;
  if (!(PROCESSOR_LIBRARIES as readonly string[]).includes(v)) throw new UsageError(`--library must be one of ${PROCESSOR_LIBRARIES.join(', ')} ("core": the 15 processor types before the library grew, plus code, no bundles), got "${v}"`);
  return v as ProcessorLibraryName;
}

export function wholeNumber(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new UsageError(`--${name} must be a whole number, got "${v}"`);
  return Number(v);
}

/** Validates a workflow input built from flags (flags not given are left to the schema's defaults). */
export function validInput<S extends z.ZodType>(schema: S, raw: Record<string, unknown>): z.infer<S> {
  const parsed = schema.safeParse(Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== undefined)));
  if (!parsed.success) throw new UsageError(`invalid options:\n${inputProblems(parsed.error).map((p) => `  - ${p}`).join('\n')}`);
  return parsed.data;
}

/**
 * A model flag's value names a provider and model the registry knows ("rules" where a meta-agent may be
 * rule-based). Given the suite the model is to play, the simulator is refused on a suite it has no skill
 * for (see simulatorMisfit).
 */
export function checkModelFlag(flag: string, model: string, options: { allowRules?: boolean; suite?: string } = {}): void {
  const problem = options.allowRules && model === 'rules' ? null : checkModelString(model);
  if (problem) throw new UsageError(`${flag}: ${problem}`);
  const misfit = options.suite === undefined ? null : simulatorMisfit(model, options.suite);
  if (misfit) throw new UsageError(`${flag} ${model}: ${misfit}`);
}

/** A task model as a run's banner names it: the simulator says it is one; an LLM endpoint is just named. */
export function taskModelLabel(model: string): string {
  return model.startsWith('sim:') ? `${model} (the simulator, not an LLM)` : model;
}

/**
 * Why the simulator cannot play a suite, or null. sim:* has a skill for each built-in benchmark (and a brief
 * on its tasks where the prompt alone is not enough); a user suite's tasks are unknown to it, so every
 * episode would end "I cannot tell what task this is" and a run would measure nothing.
 */
export function simulatorMisfit(model: string, suite: string): string | null {
  if (!model.startsWith('sim:') || BENCHMARK_NAMES.includes(suite)) return null;
  return (
    `the simulator plays only the built-in benchmarks (${BENCHMARK_NAMES.join(', ')}), and suite "${suite}" gives it no simulator brief: ` +
    `every episode would be "I cannot tell what task this is". Use a real model, e.g. --model openai-compatible:<model>@http://localhost:8000/v1, ` +
    `--model openai:<model> or --model anthropic:<model> (see "Models" in the README).`
  );
}

/** The harness in `--harness file.json`, or the seed harness for `model` when none is given. */
export function readHarnessFile(path: string | undefined, model: string) {
  if (!path) return seedHarness(model);
  let raw: unknown;
  try {
    // Bounded and quiet: `--harness /dev/zero` is refused after 8 MiB, `--harness /etc/passwd` without quoting it.
    raw = parseJsonQuietly(readBoundedText(path, 'the file'), 'the file');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(`--harness ${path}: ${code ? `cannot read it (${code})` : (e as Error).message}`);
  }
  try {
    return parseHarnessConfig(raw);
  } catch (e) {
    if (e instanceof HarnessConfigError) throw new UsageError(`--harness ${path}: ${e.message}`);
    throw e;
  }
}

/**
 * The harness in `--harness file.json` once its code processors pass what the gate asks of evolved code
 * (type-check, smoke tests, reward-hacking checks on `benchmark`), or the seed harness when none is given.
 * For a harness that is about to run; an unknown benchmark is left to the caller's own check.
 */
export async function readVerifiedHarness(path: string | undefined, model: string, benchmark: string): Promise<HarnessConfig> {
  const config = readHarnessFile(path, model);
  if (path && knownBenchmarkNames().includes(benchmark)) {
    const verdict = await verifyCodeProcessors(config, getBenchmark(benchmark));
    if (!verdict.passed) {
      const problems = capProblems(verdict.problems.map((p) => `hooks.${p.hook}.${p.processorId}: ${p.stage}: ${p.reason}`));
      throw new UsageError(`--harness ${path}: code processors fail verification:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    }
  }
  return config;
}

/** `--harness file.json` (verified, see readVerifiedHarness) as a workflow's seedHarness input, or undefined when not given. */
export async function seedHarnessInput(path: string | undefined, model: string, benchmark: string): Promise<Record<string, unknown> | undefined> {
  return path ? ((await readVerifiedHarness(path, model, benchmark)) as unknown as Record<string, unknown>) : undefined;
}

/**
 * Loads the user's config (`--config`, else HARNESSX_CONFIG, else harnessx.config.* here) and registers its
 * suites; a config that cannot be used is a usage error with its file and field.
 */
export async function loadConfigFlag(config: string | undefined): Promise<{ file: string | null; suites: string[] }> {
  try {
    return await registerConfiguredSuites({ explicit: config });
  } catch (e) {
    if (e instanceof SuiteConfigError || e instanceof SuiteTaskError) throw new UsageError(e.message);
    throw e;
  }
}

/**
 * Which config the suites came from, or the search that found none (a suite name that is unknown usually
 * means the command ran from another folder than the config's).
 */
export function configSearchNote(file: string | null, cwd: string = process.cwd()): string {
  if (file) return `config ${file}`;
  return `no config file found: --config not given, HARNESSX_CONFIG unset, no ${CONFIG_FILE_NAMES.join(', ')} in ${cwd}; pass --config FILE`;
}

/** `unknown suite "x"; known: …` with where the suites were looked for. */
export function unknownSuiteMessage(name: string, file: string | null): string {
  return `unknown suite "${name}"; known: ${knownBenchmarkNames().join(', ')} (${configSearchNote(file)})`;
}

/** The suite a command runs on (`--suite`, or `--benchmark`), checked against the built-in benchmarks and the config's suites. */
export async function suiteFlag(values: { benchmark: string; suite?: string; config?: string }): Promise<string> {
  const { file } = await loadConfigFlag(values.config);
  const name = values.suite ?? values.benchmark;
  if (!knownBenchmarkNames().includes(name)) throw new UsageError(unknownSuiteMessage(name, file));
  return name;
}
