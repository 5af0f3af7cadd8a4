import { existsSync } from 'node:fs';
import { readBoundedText, whereJsonBreaks } from '../harness/bounded-file';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { z } from 'zod';
import { BENCHMARK_NAMES, registerBenchmark } from '../benchmarks/registry';
import { functionToolProvider } from './function-tools';
import { loadSuiteTasks } from './load-tasks';
import { SuiteBenchmark } from './suite-benchmark';
import type { FunctionToolConfig, HarnessxConfig, McpToolsConfig, SuiteConfig, SuiteTask, ToolProvider } from './types';
import { createVerifier } from './verifiers';

/** Config file names looked for in the working directory, in this order. */
export const CONFIG_FILE_NAMES = ['harnessx.config.ts', 'harnessx.config.mts', 'harnessx.config.js', 'harnessx.config.mjs', 'harnessx.config.cjs', 'harnessx.config.json'] as const;

/** Suite names are folder-safe, lower case, and cannot look like an option. */
export const SUITE_NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/** Where an MCP server entry of the config is (for its error messages) and the folder its relative paths resolve against. */
export interface McpWhere {
  configFile: string;
  suite: string;
  index: number;
  configDir: string;
}

/** Builds the ToolProvider of one MCP server entry (suites/mcp: the official SDK client). */
export type McpProviderFactory = (config: McpToolsConfig, where: McpWhere) => ToolProvider;

/** A config that cannot be used: the message names the file, the field path and what was expected. */
export class SuiteConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SuiteConfigError';
  }
}

/**
 * The config file to load: `--config` (explicit), then HARNESSX_CONFIG, then the first harnessx.config.* in
 * `cwd`; null when there is none (HarnessX then knows its built-in benchmarks only). An explicit path that
 * does not exist is an error, not a silent fallback.
 */
export function findConfigFile(options: { explicit?: string; cwd?: string; env?: NodeJS.ProcessEnv } = {}): string | null {
  const cwd = options.cwd ?? process.cwd();
  const env = options.env ?? process.env;
  for (const [given, from] of [
    [options.explicit, '--config'],
    [env.HARNESSX_CONFIG, 'HARNESSX_CONFIG'],
  ] as const) {
    if (!given) continue;
    const path = resolve(cwd, given);
    if (!existsSync(path)) throw new SuiteConfigError(`${from}: no config file at ${path}`);
    return path;
  }
  for (const name of CONFIG_FILE_NAMES) {
    const path = resolve(cwd, name);
    if (existsSync(path)) return path;
  }
  return null;
}

/**
 * The default MCP factory: suites/mcp, loaded only when a config declares an MCP server, so a config of
 * function tools never loads the MCP SDK.
 */
export const defaultMcpProvider: McpProviderFactory = (config, where) => {
  // Required here, not imported at the top: a config of function tools never loads the MCP SDK.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { mcpToolProvider } = require('./mcp') as typeof import('./mcp');
  return mcpToolProvider(config, where);
};

export interface LoadConfigOptions {
  /** How MCP server entries become tool providers; suites/mcp by default (tests inject a double). */
  mcpProvider?: McpProviderFactory;
  /** Names already taken besides the built-in benchmarks (none by default). */
  reservedNames?: readonly string[];
}

/**
 * Loads a config file (TypeScript/JavaScript module or JSON), checks it at the edge, and builds one
 * SuiteBenchmark per suite with its tasks loaded and checked: a bad task fails here, before any run.
 */
export async function loadSuitesConfig(file: string, options: LoadConfigOptions = {}): Promise<SuiteBenchmark[]> {
  const path = resolve(file);
  const config = parseSuitesConfig(await readConfigModule(path), path);
  const configDir = dirname(path);
  const reserved = new Set([...BENCHMARK_NAMES, ...(options.reservedNames ?? [])]);
  const suites: SuiteBenchmark[] = [];
  for (const [name, suite] of Object.entries(config.suites)) {
    // A name too long to be one is cut in the message (it is refused anyway).
    const at = `${displayPath(path)}: suites.${name.length > 80 ? `${name.slice(0, 80)}… (${name.length} characters)` : name}`;
    if (!SUITE_NAME_PATTERN.test(name)) throw new SuiteConfigError(`${at}: suite names are lower-case letters, digits, ".", "_" and "-", starting with a letter or digit, at most 64 characters`);
    if (reserved.has(name)) throw new SuiteConfigError(`${at}: "${name}" is the name of a built-in benchmark; choose another name`);
    suites.push(await buildSuite(name, suite, { configFile: path, configDir, mcpProvider: options.mcpProvider ?? defaultMcpProvider }));
  }
  return suites;
}

/**
 * The config the way the CLI and workers load it: discovered (findConfigFile), loaded, or none. Returns
 * the file too, so callers can say which config they use.
 */
export async function discoverSuites(options: { explicit?: string; cwd?: string; env?: NodeJS.ProcessEnv } & LoadConfigOptions = {}): Promise<{ file: string | null; suites: SuiteBenchmark[] }> {
  const file = findConfigFile(options);
  return { file, suites: file ? await loadSuitesConfig(file, options) : [] };
}

async function buildSuite(name: string, suite: SuiteConfig, where: { configFile: string; configDir: string; mcpProvider: McpProviderFactory }): Promise<SuiteBenchmark> {
  const at = `${displayPath(where.configFile)}: suites.${name}`;
  let tasks;
  try {
    tasks = await loadSuiteTasks(suite, { configFile: where.configFile, configDir: where.configDir, suite: name });
  } catch (e) {
    throw new SuiteConfigError(`${displayPath(where.configFile)}: ${(e as Error).message}`);
  }
  const byId = new Map(tasks.map((t) => [t.id, t]));
  const functionTools: FunctionToolConfig[] = [];
  const providers: ToolProvider[] = [];
  for (const [index, tool] of (suite.tools ?? []).entries()) {
    if ('mcp' in tool) providers.push(where.mcpProvider(tool, { configFile: where.configFile, suite: name, index, configDir: where.configDir }));
    else functionTools.push(tool);
  }
  if (functionTools.length) {
    try {
      providers.unshift(functionToolProvider(functionTools, { where: `${at}`, initialState: suite.initialState, task: (id): SuiteTask => byId.get(id) ?? { id, instruction: '' } }));
    } catch (e) {
      throw new SuiteConfigError((e as Error).message);
    }
  }
  const verifier = createVerifier(suite.verifier, { suite: name, configDir: where.configDir, timeoutMs: suite.verifierTimeoutMs });
  const skills = readSkillFiles(suite.skills ?? {}, { at, configDir: where.configDir });
  return new SuiteBenchmark({ name, config: suite, tasks, providers, verifier, skills });
}

/** The most characters one skill file may hold (it goes into system prompts). */
export const MAX_SKILL_CHARS = 200_000;

/** A suite's skill files, read and checked at load: a missing, unreadable or oversized file fails here, naming the field and the path. */
export function readSkillFiles(declared: Record<string, string>, where: { at: string; configDir: string }): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, file] of Object.entries(declared)) {
    const path = resolve(where.configDir, file);
    let text: string;
    try {
      // Bounded like every file the config names: a skill at /dev/zero is refused, not read forever.
      text = readBoundedText(path, 'the skill file', 4 * MAX_SKILL_CHARS);
    } catch (e) {
      throw new SuiteConfigError(`${where.at}.skills.${name}: cannot read ${displayPath(path)} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    if (text.length > MAX_SKILL_CHARS) throw new SuiteConfigError(`${where.at}.skills.${name}: ${displayPath(path)} has ${text.length} characters; a skill file may have at most ${MAX_SKILL_CHARS}`);
    if (!text.trim()) throw new SuiteConfigError(`${where.at}.skills.${name}: ${displayPath(path)} is empty`);
    out[name] = text;
  }
  return out;
}

/** The module's default export (or the module itself), or the parsed JSON. */
async function readConfigModule(path: string): Promise<unknown> {
  if (path.endsWith('.json')) {
    // Bounded, and a parse error says where, never what the file holds (a wrong path must not be echoed).
    let text: string;
    try {
      text = readBoundedText(path, displayPath(path));
    } catch (e) {
      throw new SuiteConfigError(`${displayPath(path)}: cannot read it: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    try {
      return JSON.parse(text);
    } catch (e) {
      throw new SuiteConfigError(`${displayPath(path)}: not valid JSON (${whereJsonBreaks(e, text)})`);
    }
  }
  let mod: unknown;
  try {
    // require, not import(): the CLI runs under tsx's CommonJS hook and jest transforms what it requires, so a
    // .ts config with import/export loads in both; Node 20.19+ requires .mjs modules too.
    // The installed package runs compiled JavaScript without tsx's hook: it is registered here, for a
    // TypeScript config only (in a clone the CLI already runs under it, and jest has its own transform).
    if (/\.[cm]?ts$/.test(path) && __filename.endsWith('.js')) require('tsx/cjs');
    delete require.cache[path];
    mod = require(path);
  } catch (e) {
    throw new SuiteConfigError(`${displayPath(path)}: cannot load: ${e instanceof Error ? e.message : String(e)}`);
  }
  const record = mod as { default?: unknown; __esModule?: boolean } | null;
  return record && typeof record === 'object' && 'default' in record && record.default !== undefined ? record.default : mod;
}

const isFunction = (v: unknown): v is (...args: unknown[]) => unknown => typeof v === 'function';
const fn = (message: string) => z.custom<(...args: never[]) => unknown>(isFunction, { message });
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * A union picked by shape, so the message says what was expected instead of zod's "Invalid input": the
 * first branch whose `when` matches validates the value (its issues keep their paths); none → `message`.
 */
function oneOf(message: string, branches: Array<{ when: (v: unknown) => boolean; schema: z.ZodType }>) {
  return z.unknown().superRefine((value, ctx) => {
    const branch = branches.find((b) => b.when(value));
    if (!branch) return ctx.addIssue({ code: 'custom', message });
    const parsed = branch.schema.safeParse(value);
    if (!parsed.success) for (const issue of parsed.error.issues) ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path as PropertyKey[] });
  });
}

const McpServerSchema = oneOf('expected {command, args?, env?, cwd?} (stdio) or {url, headers?} (Streamable HTTP)', [
  {
    when: (v) => isRecord(v) && 'command' in v,
    schema: z.object({ command: z.string().min(1), args: z.array(z.string()).optional(), env: z.record(z.string(), z.string()).optional(), cwd: z.string().optional() }).strict(),
  },
  { when: (v) => isRecord(v) && 'url' in v, schema: z.object({ url: z.url(), headers: z.record(z.string(), z.string()).optional() }).strict() },
]);

const ToolSchema = oneOf('expected an MCP server entry {mcp: …} or a function tool {name, description, parameters, execute}', [
  {
    when: (v) => isRecord(v) && 'mcp' in v,
    schema: z
      .object({
        mcp: McpServerSchema,
        stateless: z.boolean().optional(),
        state: oneOf('expected {resource} or {tool, args?}', [
          { when: (v) => isRecord(v) && 'resource' in v, schema: z.object({ resource: z.string().min(1) }).strict() },
          { when: (v) => isRecord(v) && 'tool' in v, schema: z.object({ tool: z.string().min(1), args: z.record(z.string(), z.unknown()).optional() }).strict() },
        ]).optional(),
        hidden: z.array(z.string()).optional(),
        startTimeoutMs: z.number().int().positive().optional(),
        callTimeoutMs: z.number().int().positive().optional(),
        setup: z.object({ command: z.string().min(1), args: z.array(z.string()).optional(), timeoutMs: z.number().int().positive().optional() }).strict().optional(),
      })
      .strict(),
  },
  {
    when: (v) => isRecord(v) && ('execute' in v || 'name' in v),
    schema: z.object({ name: z.string(), description: z.string(), parameters: z.unknown(), execute: fn('expected a function') }).strict(),
  },
]);

const ReferenceCallsSchema = z.array(z.object({ name: z.string().min(1), args: z.record(z.string(), z.unknown()) }).strict());

const SuiteSchema = z
  .object({
    description: z.string().optional(),
    tasks: oneOf('expected a JSONL file path or a function returning the tasks', [
      { when: (v) => typeof v === 'string', schema: z.string().min(1) },
      { when: isFunction, schema: z.unknown() },
    ]),
    tools: z.array(ToolSchema).optional(),
    initialState: fn('expected a function (task) => initial state').optional(),
    verifier: oneOf('expected a function, {command} or {judge}', [
      { when: isFunction, schema: z.unknown() },
      {
        when: (v) => isRecord(v) && 'command' in v,
        schema: z.object({ command: z.string().min(1), args: z.array(z.string()).optional(), cwd: z.string().optional(), timeoutMs: z.number().int().positive().optional() }).strict(),
      },
      { when: (v) => isRecord(v) && 'judge' in v, schema: z.object({ judge: z.object({ rubric: z.string().min(1) }).strict() }).strict() },
    ]),
    references: oneOf('expected a JSONL file path or an object of task id → tool calls', [
      { when: (v) => typeof v === 'string', schema: z.string().min(1) },
      { when: isRecord, schema: z.record(z.string(), ReferenceCallsSchema) },
    ]).optional(),
    user: oneOf('expected {script: [turns…]} or {persona: "…"}', [
      { when: (v) => isRecord(v) && 'script' in v, schema: z.object({ script: z.array(z.string()).min(1) }).strict() },
      { when: (v) => isRecord(v) && 'persona' in v, schema: z.object({ persona: z.string().min(1) }).strict() },
    ]).optional(),
    verifierTimeoutMs: z.number().int().positive().optional(),
    skills: z.record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'skill names are letters, digits, ".", "_" and "-" (at most 64)'), z.string().min(1, 'a file path relative to the config file')).optional(),
  })
  .strict();

const ConfigSchema = z.object({ suites: z.record(z.string(), SuiteSchema) }).strict();

/** Checks a loaded config value; every problem names the file and the field path. */
export function parseSuitesConfig(value: unknown, file: string): HarnessxConfig {
  const parsed = ConfigSchema.safeParse(value);
  if (!parsed.success) {
    const lines = parsed.error.issues.slice(0, 10).map((i) => `${displayPath(file)}: ${i.path.length ? i.path.map(String).join('.') : '(config)'}: ${i.message}`);
    throw new SuiteConfigError(lines.join('\n'));
  }
  // The schema checked the shape; the values themselves (functions, zod schemas) pass through unchanged.
  return value as HarnessxConfig;
}

/** A path as messages show it: relative to the working directory when inside it. */
export function displayPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

/** Configs this process has loaded and registered, by resolved path: the CLI and its in-process worker load one config once. */
const registeredConfigs = new Map<string, Promise<SuiteBenchmark[]>>();

/**
 * What the CLI and every worker do before anything else: find the config (`explicit`, HARNESSX_CONFIG,
 * harnessx.config.* in the working directory), load it, and register its suites in the benchmark registry
 * so runs can name them. No config: nothing to register, the built-in benchmarks alone. Loading the same
 * file again in one process is a no-op.
 */
export async function registerConfiguredSuites(options: { explicit?: string; cwd?: string; env?: NodeJS.ProcessEnv } & LoadConfigOptions = {}): Promise<{ file: string | null; suites: string[] }> {
  const file = findConfigFile(options);
  if (!file) return { file: null, suites: [] };
  let loading = registeredConfigs.get(file);
  if (!loading) {
    loading = loadSuitesConfig(file, options).then((suites) => {
      for (const suite of suites) registerBenchmark(suite);
      return suites;
    });
    registeredConfigs.set(file, loading);
    loading.catch(() => registeredConfigs.delete(file));
  }
  return { file, suites: (await loading).map((s) => s.name) };
}
