import { FILE, HumanEvalBenchmark } from '../../benchmarks/humaneval';
import { runPython } from '../../benchmarks/humaneval/python-sandbox';
import { getBenchmark } from '../../benchmarks/registry';
import { rolloutTasks } from '../../aegis/rollout';
import { harnessId } from '../../harness/config';
import { seedHarness } from '../../harness/seed';

jest.setTimeout(60_000);
const bench = getBenchmark('humaneval') as HumanEvalBenchmark;
const ids = bench.tasks().slice(0, 12).map((t) => t.id);

describe('HumanEval', () => {
  test('loads all 120 problems with upstream fields', () => {
    expect(bench.tasks()).toHaveLength(120);
    expect(bench.problem('humaneval/0')).toMatchObject({ entryPoint: 'has_close_elements' });
  });

  test('the hidden tests accept canonical solutions and reject wrong ones', () => {
    for (const id of ids) {
      expect(bench.verifyPlan(id, bench.referenceSolution(id))).toMatchObject({ valid: true });
      for (const c of bench.corruptSolutions(id)) expect(bench.verifyPlan(id, c.actions)).toMatchObject({ valid: false });
    }
  });

  test('the workspace: write, run the docstring examples, submit; the score is the hidden tests', () => {
    const p = bench.problem('humaneval/0');
    const env = bench.createEnvironment('humaneval/0');
    expect(env.execute({ id: '1', name: 'read_file', args: { path: FILE } }).output).toContain('def has_close_elements');
    expect(env.execute({ id: '2', name: 'write_file', args: { path: FILE, content: `${p.prompt}    return False\n` } })).toMatchObject({ ok: true });
    expect(env.execute({ id: '3', name: 'run_examples', args: {} }).output).toMatch(/^EXAMPLES 1\/2 passed/);
    env.execute({ id: '4', name: 'write_file', args: { path: FILE, content: p.prompt + p.canonicalSolution } });
    expect(env.execute({ id: '5', name: 'run_examples', args: {} }).output).toMatch(/^EXAMPLES 2\/2 passed/);
    expect(env.execute({ id: '6', name: 'submit', args: {} })).toMatchObject({ ok: true });
    expect(env.score()).toBe(1);
    expect(env.execute({ id: '7', name: 'submit', args: {} })).toMatchObject({ ok: false, errorKind: 'precondition' });
  });

  test('the Python sandbox: no network, a wall-clock limit, nothing left behind', () => {
    const net = runPython({}, 'import socket\nsocket.create_connection(("127.0.0.1", 1))\n');
    expect(net.ok).toBe(false);
    expect(net.stderr).toMatch(/network access is disabled in the sandbox|Network is unreachable/);
    const loop = runPython({}, 'while True:\n    pass\n', 800);
    expect(loop).toMatchObject({ ok: false, timedOut: true });
    const env = runPython({}, 'import os\nprint(sorted(k for k in os.environ if k not in ("PATH", "PYTHONDONTWRITEBYTECODE", "LC_CTYPE", "PWD")))\n');
    // PWD is the box's own /sandbox (bwrap sets it): nothing of the host.
    expect(env.stdout.trim()).toBe('[]');
  });

  test('the simulator plays it: sim:large passes more than sim:small', async () => {
    const rate = async (size: string) => {
      const config = seedHarness(`sim:${size}`);
      const r = await rolloutTasks({ benchmark: bench, config, harnessId: harnessId(config), taskIds: ids, k: 1, seed: 'he' });
      return r.outcomes.filter((o) => o.passed).length / ids.length;
    };
    expect(await rate('large')).toBeGreaterThan(await rate('small'));
  });
});
