import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { startDevServer, tempDataDir } from './temporal-env';

jest.setTimeout(240_000);

const ROOT = join(__dirname, '../..');
let env: TestWorkflowEnvironment;
const dataDir = tempDataDir();

beforeAll(async () => {
  env = await startDevServer();
});
afterAll(async () => {
  await env?.teardown();
});

function harnessx(...args: string[]) {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin/harnessx.js'), ...args], {
    env: { ...process.env, TEMPORAL_ADDRESS: env.address, HARNESSX_DATA_DIR: dataDir, HARNESSX_LOG_LEVEL: 'ERROR' },
    encoding: 'utf8',
    timeout: 200_000,
  });
  const lines = r.stdout.trim().split('\n');
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, last: lines[lines.length - 1] };
}

it('rollout --json ends with one JSON object with passRate, tasks and episodes', () => {
  const r = harnessx('rollout', '--benchmark', 'blocksworld', '--model', 'sim:small', '--tasks', '5', '--json');
  expect(r.code).toBe(0);
  const result = JSON.parse(r.last);
  expect(result).toEqual(expect.objectContaining({ tasks: 5, episodes: 10, split: 'test' }));
  expect(result.passRate).toBeGreaterThanOrEqual(0);
  expect(result.passRate).toBeLessThanOrEqual(1);
});

it.each(['blocksworld', 'gsm8k', 'humaneval', 'tau2-retail', 'webshop'])('check-benchmark %s --json: every reference solution accepted, every corruption rejected', (name) => {
  const r = harnessx('check-benchmark', name, '--json');
  expect(r.code).toBe(0);
  const check = JSON.parse(r.last);
  expect(check.referenceAccepted).toBe(check.tasks);
  expect(check.corruptedRejected).toBe(check.corrupted);
  expect(check.corrupted).toBeGreaterThanOrEqual(2 * check.tasks);
  expect(r.stderr).toMatch(new RegExp(`${name}: reference solutions accepted ${check.tasks}/${check.tasks}`));
});

it('rollout --benchmark gsm8k --tasks 5 --json runs end to end', () => {
  const r = harnessx('rollout', '--benchmark', 'gsm8k', '--model', 'sim:small', '--tasks', '5', '--json');
  expect(r.code).toBe(0);
  expect(JSON.parse(r.last)).toMatchObject({ benchmark: 'gsm8k', tasks: 5, episodes: 10 });
});

it('evolve --json runs a workflow on the cluster in TEMPORAL_ADDRESS and ends with the summary; history shows it', () => {
  const r = harnessx('evolve', '--benchmark', 'blocksworld', '--model', 'sim:small', '--rounds', '1', '--batch-size', '12', '--validation-size', '6', '--seed', 'cli', '--workflow-id', 'it-cli', '--json');
  expect(r.code).toBe(0);
  const summary = JSON.parse(r.last);
  for (const key of ['workflowId', 'seedPassRate', 'evolvedPassRate', 'seedTestPassRate', 'evolvedTestPassRate', 'shipped', 'rejected', 'harnessId'])
    expect(summary).toHaveProperty(key);
  expect(summary.workflowId).toBe('it-cli');
  expect(summary.harnessId).toMatch(/^hx-[0-9a-f]{16}$/);
  expect(r.stderr).toContain('round 1/1');
  const h = harnessx('history', 'it-cli');
  expect(h.code).toBe(0);
  expect(h.stdout).toMatch(/^\S+ +1 +rollout +info /m);
  expect(h.stdout).toMatch(/ final +info .*train \d+\.\d% → \d+\.\d%/);
});

it('coevolve --json reports harness-only and co-evolved pass rates; export-grpo writes TRL JSONL and verl parquet', () => {
  const r = harnessx('coevolve', '--iterations', '2', '--batch-size', '12', '--seed', 'cli-co', '--workflow-id', 'it-cli-coevolve', '--json');
  expect(r.code).toBe(0);
  const result = JSON.parse(r.last);
  expect(result).toMatchObject({ workflowId: 'it-cli-coevolve', benchmark: 'blocksworld', iterations: 2 });
  expect(typeof result.harnessOnlyPassRate).toBe('number');
  expect(typeof result.coevolvedPassRate).toBe('number');
  const out = join(dataDir, 'export');
  const trl = harnessx('export-grpo', 'it-cli-coevolve', '--format', 'trl', '--out', join(out, 'g.jsonl'), '--json');
  expect(trl.code).toBe(0);
  expect(JSON.parse(trl.last).rows).toBe(2 * 12 * 2);
  const verl = harnessx('export-grpo', 'it-cli-coevolve', '--format', 'verl', '--out', join(out, 'g.parquet'), '--json');
  expect(verl.code).toBe(0);
  expect(readFileSync(join(out, 'g.parquet')).subarray(0, 4).toString()).toBe('PAR1');
  expect(harnessx('export-grpo', 'it-cli-coevolve', '--format', 'csv').stderr).toMatch(/--format must be trl or verl/);
});

it('compare --json runs AEGIS and every baseline on the same tasks and seeds and prints one table', () => {
  const r = harnessx('compare', '--rounds', '2', '--batch-size', '10', '--validation-size', '6', '--seed', 'cli-compare', '--json');
  expect(r.code).toBe(0);
  const table = JSON.parse(r.last);
  expect(table.rows.map((row: { evolver: string }) => row.evolver)).toEqual(['static', 'aegis', 'single-agent', 'random', 'reflective-prompt']);
  expect(table).toMatchObject({ benchmark: 'blocksworld', model: 'sim:small', metaAgent: 'rules', seed: 'cli-compare', k: 2 });
  for (const row of table.rows.slice(1)) {
    expect(row).toMatchObject({ rounds: 2, costUsd: 0 });
    // Nothing ships that the gate did not pass, so no evolver ends below the static harness on train.
    expect(row.trainPassRate).toBeGreaterThanOrEqual(table.rows[0].trainPassRate);
    expect(harnessx('history', row.workflowId).stdout).toMatch(/ final +info .*train \d+\.\d% → \d+\.\d%/);
  }
  // The printed table (100 columns; --wide has the rest) names every evolver with its test and train pass rates.
  expect(r.stderr).toMatch(/evolver +test \(95% interval\) +train +ships +tokens +to-target +AEGIS−arm/);
  expect(r.stderr).toMatch(/\n  reflective-prompt +\d+\.\d% +\d+\.\d% +\d+ /);
  expect(r.stderr).toMatch(/warning: 1 seed: intervals and p-values say almost nothing/);
});

it.each([
  [['compare', '--evolvers', 'aegis,genetic'], /--evolvers: unknown "genetic"; choose from aegis, single-agent, random, reflective-prompt/],
  [['evolve', '--meta-agent', 'gpt'], /metaAgent must be "rules" or a model string/],
  [['evolve', '--rounds', 'ten'], /--rounds must be a whole number, got "ten"/],
  [['evolve', '--rounds', '0'], /rounds: Too small/],
  [['evolve', '--benchmark', 'chess'], /unknown suite "chess"; known: blocksworld, gsm8k, humaneval, tau2-retail, webshop/],
  [['evolve', '--suite', 'chess'], /unknown suite "chess"; known: blocksworld/],
  [['evolve', '--config', '/nonexistent.config.ts'], /--config: no config file at \/nonexistent.config.ts/],
  [['check-benchmark', 'support', '--config', 'tests/fixtures/suites/bad/harnessx.config.json'], /suites\/bad\/harnessx.config.json: suites.support.verifier: expected a function, \{command\} or \{judge\}/],
  [['evolve', '--model', 'sim:huge'], /unknown simulator size "huge"/],
  [['evolve', '--harness', '/nonexistent.json'], /--harness \/nonexistent.json: cannot read it \(ENOENT\)/],
  [['rollout', '--split', 'dev'], /--split must be train, validation or test/],
  [['rollout', '--colour', 'red'], /Unknown option '--colour'/],
  [['frobnicate'], /unknown command "frobnicate"/],
  [['check-benchmark', 'chess'], /unknown suite "chess"; known: blocksworld, gsm8k, humaneval, tau2-retail, webshop/],
  [['history', 'no-such-run'], /no audit log for "no-such-run"/],
])('harnessx %j fails with a clear message and exit code 2', (args, message) => {
  const r = harnessx(...args);
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(message);
});

it('never crashes on random arguments: exit 0 or 2, with a message on 2', () => {
  const words = ['evolve', 'rollout', 'status', 'diff', '--rounds', '--k', '--model', '--tasks', '-x', '--json', 'sim:small', '0', '-1', 'abc', '{}', '--split', 'test', '--harness'];
  let seed = 7;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let i = 0; i < 6; i++) {
    const args = Array.from({ length: 1 + Math.floor(next() * 4) }, () => words[Math.floor(next() * words.length)]);
    if (args[0] === 'evolve') args.push('--rounds', 'zero'); // never start a real run here
    const r = harnessx(...args);
    expect([0, 2]).toContain(r.code);
    if (r.code === 2) expect(r.stderr).toMatch(/^harnessx: /m);
  }
});
