import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { splitOf } from '../../benchmarks/split';
import { discoverSuites, findConfigFile, loadSuitesConfig, parseSuitesConfig, SuiteConfigError } from '../../suites/load-config';
import { loadSuiteTasks } from '../../suites/load-tasks';
import type { McpToolsConfig, ToolProvider } from '../../suites/types';

const FIXTURE = resolve(__dirname, '../fixtures/suites/notes');

/** A fresh folder with the given files, for bad-input cases. */
function folder(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'hx-suite-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}
const source = (dir: string) => ({ configFile: join(dir, 'harnessx.config.ts'), configDir: dir, suite: 'support' });
const line = (task: Record<string, unknown>) => JSON.stringify(task);

describe('suite tasks (JSONL or a function)', () => {
  it('load with their fields, split by id unless the task says, references merged on', async () => {
    const dir = folder({
      'tasks.jsonl': [line({ id: 'a', instruction: 'do a', metadata: { x: 1 } }), '', line({ id: 'b', instruction: 'do b', split: 'test' })].join('\n'),
      'refs.jsonl': line({ id: 'a', reference: [{ name: 'tool', args: { k: 1 } }], referenceAnswer: 'done' }),
    });
    const tasks = await loadSuiteTasks({ tasks: 'tasks.jsonl', references: 'refs.jsonl' }, source(dir));
    expect(tasks).toEqual([
      { id: 'a', instruction: 'do a', metadata: { x: 1 }, split: splitOf('a'), reference: [{ name: 'tool', args: { k: 1 } }], referenceAnswer: 'done' },
      { id: 'b', instruction: 'do b', split: 'test' },
    ]);
    const fromFunction = await loadSuiteTasks({ tasks: async () => [{ id: 'f', instruction: 'go' }], references: { f: [{ name: 't', args: {} }] } }, source(dir));
    expect(fromFunction).toEqual([{ id: 'f', instruction: 'go', split: splitOf('f'), reference: [{ name: 't', args: {} }] }]);
  });

  const bad: Array<[string, string, string]> = [
    ['a line that does not parse', `${line({ id: 'a', instruction: 'x' })}\n{"id": "b", "instruction": `, 'suite "support": tasks.jsonl:2: not valid JSON'],
    ['a missing id', line({ instruction: 'x' }), 'suite "support": tasks.jsonl:1: id: expected a non-empty string, got nothing'],
    ['a non-string instruction', line({ id: 'a', instruction: 7 }), 'suite "support": tasks.jsonl:1 (task "a"): instruction: expected a non-empty string, got number 7'],
    ['duplicate ids', [line({ id: 'a', instruction: 'x' }), line({ id: 'a', instruction: 'y' })].join('\n'), 'suite "support": task id "a" appears twice (task 1 and task 2); ids must be unique'],
    ['a bad split', line({ id: 'a', instruction: 'x', split: 'dev' }), 'suite "support": tasks.jsonl:1 (task "a"): split: expected one of train, validation, test, got "dev"'],
    ['an unknown field', line({ id: 'a', instruction: 'x', answer: 3 }), 'suite "support": tasks.jsonl:1 (task "a"): answer: unknown field'],
    ['a bad reference', line({ id: 'a', instruction: 'x', reference: [{ args: {} }] }), 'suite "support": tasks.jsonl:1 (task "a"): reference[0].name: expected a tool name (string)'],
  ];
  it.each(bad)('refuse %s, naming file, line, task and field', async (_what, text, message) => {
    const dir = folder({ 'tasks.jsonl': text });
    await expect(loadSuiteTasks({ tasks: 'tasks.jsonl' }, source(dir))).rejects.toThrow(message);
  });

  // Issue 28: ids become file and object names and travel in every rollout's input: refused when the suite
  // loads (naming file, line and field), from a JSONL file or a tasks() function alike, never at the first rollout.
  const unsafe: Array<[string, string, RegExp]> = [
    ['a path that climbs out', '../../etc/x', /id: task id "\.\.\/\.\.\/etc\/x" is not safe/],
    ['a NUL byte', 'a\u0000b', /id: task id "a\\u0000b" is not safe/],
    ['10,000 characters', 'a'.repeat(10_000), /id: task id is 10000 characters long; at most 200 are allowed$/],
  ];
  it.each(unsafe)('refuse a task id with %s at load, from a file and from tasks()', async (_what, id, message) => {
    const dir = folder({ 'tasks.jsonl': [line({ id: 'ok/1', instruction: 'x' }), line({ id, instruction: 'x' })].join('\n') });
    const fromFile = await loadSuiteTasks({ tasks: 'tasks.jsonl' }, source(dir)).catch((e: Error) => e);
    expect((fromFile as Error).message).toMatch(/^suite "support": tasks\.jsonl:2: /);
    expect((fromFile as Error).message).toMatch(message);
    const fromFunction = await loadSuiteTasks({ tasks: async () => [{ id, instruction: 'x' }] }, source(dir)).catch((e: Error) => e);
    expect((fromFunction as Error).message).toMatch(/^suite "support": tasks\(\)\[0\]: /);
    expect((fromFunction as Error).message).toMatch(message);
    // The safe id on line 1 alone loads.
    await expect(loadSuiteTasks({ tasks: async () => [{ id: 'ok/1', instruction: 'x' }] }, source(dir))).resolves.toHaveLength(1);
  });

  it('refuse a tasks file past 64 MiB (a device, a huge file) after reading that much, and an instruction past 200,000 characters', async () => {
    const dir = folder({ 'long.jsonl': line({ id: 'a', instruction: 'i'.repeat(200_001) }) });
    await expect(loadSuiteTasks({ tasks: '/dev/zero' }, source(dir))).rejects.toThrow('suite "support": tasks: cannot read /dev/zero: it is larger than 67108864 bytes');
    await expect(loadSuiteTasks({ tasks: 'long.jsonl' }, source(dir))).rejects.toThrow('suite "support": long.jsonl:1 (task "a"): instruction: 200001 characters long; at most 200000 are allowed');
  });

  it('a line that does not parse is reported without quoting the file', async () => {
    const dir = folder({ 'tasks.jsonl': 'root:x:0:0:root:/root:/bin/bash' });
    const error = await loadSuiteTasks({ tasks: 'tasks.jsonl' }, source(dir)).catch((e: Error) => e);
    expect((error as Error).message).toBe('suite "support": tasks.jsonl:1: not valid JSON (unexpected text)');
  });

  it('refuse a reference for a task that does not exist, and a missing file', async () => {
    const dir = folder({ 'tasks.jsonl': line({ id: 'a', instruction: 'x' }) });
    await expect(loadSuiteTasks({ tasks: 'tasks.jsonl', references: { zz: [] } }, source(dir))).rejects.toThrow('suite "support": references["zz"]: no task has id "zz"');
    await expect(loadSuiteTasks({ tasks: 'nope.jsonl' }, source(dir))).rejects.toThrow(`suite "support": tasks: cannot read ${join(dir, 'nope.jsonl')}: ENOENT`);
  });
});

describe('the config file', () => {
  it('is found by --config, then HARNESSX_CONFIG, then harnessx.config.* in the working directory', () => {
    const dir = folder({ 'harnessx.config.json': '{"suites":{}}', 'other.json': '{"suites":{}}' });
    expect(findConfigFile({ cwd: dir, env: {} })).toBe(join(dir, 'harnessx.config.json'));
    expect(findConfigFile({ cwd: dir, env: { HARNESSX_CONFIG: 'other.json' } })).toBe(join(dir, 'other.json'));
    expect(findConfigFile({ cwd: dir, env: { HARNESSX_CONFIG: 'other.json' }, explicit: 'harnessx.config.json' })).toBe(join(dir, 'harnessx.config.json'));
    expect(findConfigFile({ cwd: tmpdir(), env: {} })).toBeNull();
    expect(() => findConfigFile({ cwd: dir, env: {}, explicit: 'missing.ts' })).toThrow(`--config: no config file at ${join(dir, 'missing.ts')}`);
  });

  it('loads a TypeScript module with import/export: tasks, function tools and the verifier', async () => {
    const [suite, ...rest] = await loadSuitesConfig(join(FIXTURE, 'harnessx.config.ts'));
    expect(rest).toEqual([]);
    expect(suite.name).toBe('notes');
    expect(suite.tasks().map((t) => t.id)).toEqual(['notes-1', 'notes-2', 'notes-3', 'notes-4']);
    expect(suite.task('notes-4').split).toBe('test');
    const env = await suite.createEnvironment('notes-1', { seed: 's' });
    expect(env.tools().map((t) => t.name)).toEqual(['add_note', 'list_notes']);
    await env.close();
  });

  it('loads a JSON config (a command verifier) the same way, discovered in the working directory', async () => {
    const { file, suites } = await discoverSuites({ cwd: FIXTURE, env: {} });
    // harnessx.config.ts comes before .json in the discovery order.
    expect(file).toBe(join(FIXTURE, 'harnessx.config.ts'));
    expect(suites.map((s) => s.name)).toEqual(['notes']);
    const [json] = await loadSuitesConfig(join(FIXTURE, 'harnessx.config.json'));
    expect(json.name).toBe('notes-answers');
    expect(await json.verifyPlan('notes-1', json.referenceSolution('notes-1'))).toEqual({ valid: true, reason: 'right count' });
  });

  const badConfigs: Array<[string, unknown, string]> = [
    ['a wrong verifier', { suites: { support: { tasks: 't.jsonl', verifier: 'yes' } } }, 'harnessx.config.json: suites.support.verifier: expected a function, {command} or {judge}'],
    ['an unknown key', { suites: { support: { tasks: 't.jsonl', verifier: { command: 'x' }, retries: 3 } } }, 'harnessx.config.json: suites.support: Unrecognized key: "retries"'],
    ['a wrong type', { suites: { support: { tasks: 5, verifier: { command: 'x' } } } }, 'harnessx.config.json: suites.support.tasks: expected a JSONL file path or a function returning the tasks'],
    ['a bad command verifier', { suites: { support: { tasks: 't.jsonl', verifier: { command: 'x', timeoutMs: -1 } } } }, 'harnessx.config.json: suites.support.verifier.timeoutMs: Too small'],
    ['a bad MCP server', { suites: { support: { tasks: 't.jsonl', verifier: { command: 'x' }, tools: [{ mcp: { port: 3 } }] } } }, 'harnessx.config.json: suites.support.tools.0.mcp: expected {command, args?, env?, cwd?} (stdio) or {url, headers?} (Streamable HTTP)'],
    ['no suites', { suite: {} }, 'harnessx.config.json: suites: Invalid input: expected record, received undefined'],
  ];
  it.each(badConfigs)('refuses %s with the file and field path', async (_what, config, message) => {
    const dir = folder({ 'harnessx.config.json': JSON.stringify(config), 't.jsonl': line({ id: 'a', instruction: 'x' }) });
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      await expect(loadSuitesConfig(join(dir, 'harnessx.config.json'))).rejects.toThrow(message);
      await expect(loadSuitesConfig(join(dir, 'harnessx.config.json'))).rejects.toBeInstanceOf(SuiteConfigError);
    } finally {
      process.chdir(cwd);
    }
  });

  it('refuses a bad suite name, a built-in name, a JSON file that does not parse and bad tasks — at load', async () => {
    const tasks = line({ id: 'a', instruction: 'x' });
    const load = (config: string, extra: Record<string, string> = {}) => {
      const dir = folder({ 'harnessx.config.json': config, 't.jsonl': tasks, ...extra });
      return loadSuitesConfig(join(dir, 'harnessx.config.json')).catch((e: Error) => Promise.reject(new Error(e.message.replace(dir + '/', ''))));
    };
    await expect(load(JSON.stringify({ suites: { Support: { tasks: 't.jsonl', verifier: { command: 'x' } } } }))).rejects.toThrow('suites.Support: suite names are lower-case letters');
    await expect(load(JSON.stringify({ suites: { gsm8k: { tasks: 't.jsonl', verifier: { command: 'x' } } } }))).rejects.toThrow('suites.gsm8k: "gsm8k" is the name of a built-in benchmark; choose another name');
    await expect(load('{"suites": ')).rejects.toThrow('harnessx.config.json: not valid JSON');
    // Issue 28: a 10,000-character suite name is refused at load, and the message does not repeat it whole.
    const long = 's'.repeat(10_000);
    const error = await load(JSON.stringify({ suites: { [long]: { tasks: 't.jsonl', verifier: { command: 'x' } } } })).catch((e: Error) => e);
    expect((error as Error).message).toMatch(/^harnessx\.config\.json: suites\.s{80}… \(10000 characters\): suite names are lower-case letters, digits, "\.", "_" and "-", starting with a letter or digit, at most 64 characters$/);
    await expect(load(JSON.stringify({ suites: { ['s'.repeat(64)]: { tasks: 't.jsonl', verifier: { command: 'x' } } } }))).resolves.toHaveLength(1);
    await expect(load(JSON.stringify({ suites: { s: { tasks: 'bad.jsonl', verifier: { command: 'x' } } } }), { 'bad.jsonl': '{"id": 1}' })).rejects.toThrow('harnessx.config.json: suite "s": bad.jsonl:1: id: expected a non-empty string, got number 1');
  });

  it('builds MCP entries through the injected factory, with where they are declared', async () => {
    const dir = folder({ 't.jsonl': line({ id: 'a', instruction: 'x' }), 'harnessx.config.json': JSON.stringify({ suites: { s: { tasks: 't.jsonl', verifier: { command: 'x' }, tools: [{ mcp: { command: 'node', args: ['server.mjs'] }, hidden: ['dump'] }] } } }) });
    const seen: Array<[McpToolsConfig, unknown]> = [];
    const provider: ToolProvider = { label: 'double', open: async () => ({ specs: [], call: async () => ({ ok: true, output: '' }), state: async () => null, close: async () => undefined }) };
    await loadSuitesConfig(join(dir, 'harnessx.config.json'), { mcpProvider: (config, where) => (seen.push([config, where]), provider) });
    expect(seen).toEqual([[{ mcp: { command: 'node', args: ['server.mjs'] }, hidden: ['dump'] }, { configFile: join(dir, 'harnessx.config.json'), suite: 's', index: 0, configDir: dir }]]);
  });

  it('parseSuitesConfig passes functions and zod schemas through unchanged', () => {
    const verifier = () => 1;
    const config = parseSuitesConfig({ suites: { s: { tasks: () => [], verifier } } }, 'x.ts');
    expect(config.suites.s.verifier).toBe(verifier);
  });
});
