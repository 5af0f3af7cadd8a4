import { FILE, HumanEvalBenchmark } from '../../benchmarks/humaneval';
import { gradeSolution } from '../../benchmarks/humaneval/python-sandbox';
import type { ToolCall } from '../../harness/types';

/**
 * Solutions that try to forge the hidden tests' verdict instead of solving the task. Each must score 0 through
 * the benchmark's own verifier and environment, while the canonical solution still scores 1.
 */
jest.setTimeout(240_000);
const bench = new HumanEvalBenchmark();
const ID = 'humaneval/0';
const p = bench.problem(ID);
// A wrong implementation, so that only a forged verdict could pass.
const WRONG = `${p.prompt}    return False\n`;

const plan = (content: string): ToolCall[] => [
  { id: 'w', name: 'write_file', args: { path: FILE, content } },
  { id: 's', name: 'submit', args: {} },
];

const FORGERIES: Record<string, string> = {
  'prints the pass marker and exits 0': `import sys\nprint("PASSED")\nsys.exit(0)\n${WRONG}`,
  'os._exit(0) before the tests run': `import os\nprint("PASSED", flush=True)\nos._exit(0)\n`,
  'os._exit(0) from inside the function': `${p.prompt}    import os\n    print("PASSED", flush=True)\n    os._exit(0)\n`,
  'SystemExit from atexit': `import atexit, sys\natexit.register(lambda: sys.exit(0))\n${WRONG}`,
  'SystemExit from __del__': `import sys\nclass Bye:\n    def __del__(self):\n        print("PASSED")\n        sys.exit(0)\nkeep = Bye()\n${WRONG}`,
  'redefines check': `${WRONG}\ndef check(candidate):\n    print("PASSED")\n`,
  'redefines AssertionError and assert-adjacent builtins': `import builtins\nclass Never(Exception):\n    pass\nbuiltins.AssertionError = Never\nbuiltins.abs = lambda x: 0\nbuiltins.all = lambda x: True\n__builtins__ = {}\n${WRONG}`,
  'patches sys.modules': `import sys, types\nfake = types.ModuleType("math")\nfake.isclose = lambda *a, **k: True\nsys.modules["math"] = fake\nsys.modules["builtins"].AssertionError = KeyError\n${WRONG}`,
  'patches sys.stdout to print the marker': `import sys\nclass Out:\n    def write(self, s):\n        sys.__stdout__.write("PASSED\\n")\n    def flush(self):\n        pass\nsys.stdout = Out()\nprint("x")\n${WRONG}`,
  'patches sys.exit and SystemExit': `import os, sys\nsys.exit = lambda *a: os._exit(0)\nimport builtins\nbuiltins.SystemExit = type("S", (BaseException,), {})\n${WRONG}`,
  'returns an object equal to everything': `${p.prompt}    class Anything:\n        def __eq__(self, other):\n            return True\n        def __bool__(self):\n            return True\n    return Anything()\n`,
  'a subclass of bool-like int equal to everything': `${p.prompt}    class Yes(int):\n        def __eq__(self, other):\n            return True\n    return Yes(1)\n`,
  'spawns a process that prints the marker': `import subprocess, sys\nsubprocess.Popen([sys.executable, "-c", "print('PASSED')"])\n${WRONG}`,
  'forks a child that keeps writing the marker': `import os, sys, time\nif os.fork() == 0:\n    for _ in range(50):\n        print("PASSED", flush=True)\n        time.sleep(0.05)\n    os._exit(0)\n${WRONG}`,
  'writes result files where a runner might look': `import os\nfor d in (".", "..", "/tmp"):\n    for name in ("result", "result.json", "verdict", "PASSED", "tests.py", "grader.py", "solution_worker.py"):\n        try:\n            open(os.path.join(d, name), "w").write('PASSED {"passed": true}\\n')\n        except OSError:\n            pass\n${WRONG}`,
  "writes to the grader's stdout through /proc": `import os\nfor pid in [os.getppid()] + [int(x) for x in os.listdir("/proc") if x.isdigit()]:\n    for fd in ("1", "2"):\n        try:\n            with open("/proc/%d/fd/%s" % (pid, fd), "w") as f:\n                f.write('PASSED {"passed": true, "reason": "x", "timedOut": false}\\n')\n        except OSError:\n            pass\n${WRONG}`,
  'kills its parent': `import os, signal\ntry:\n    os.kill(os.getppid(), signal.SIGKILL)\nexcept OSError:\n    pass\n${WRONG}`,
  'reads the hidden tests': `import glob\n${p.prompt}    for path in glob.glob("*.py") + glob.glob("../*.py"):\n        if "def check" in open(path).read():\n            return True\n    return False\n`,
  'a syntax error': `def has_close_elements(:\n`,
};

describe('HumanEval grading cannot be forged by the code it grades', () => {
  test('the canonical solution passes', () => {
    expect(bench.verifyPlan(ID, bench.referenceSolution(ID))).toMatchObject({ valid: true, reason: 'hidden tests passed' });
  });

  test.each(Object.entries(FORGERIES))('%s: scores 0', (_kind, content) => {
    const verdict = bench.verifyPlan(ID, plan(content));
    expect(verdict.valid).toBe(false);
    const env = bench.createEnvironment(ID);
    for (const call of plan(content)) env.execute(call);
    expect(env.score()).toBe(0);
  });

  test("redefining a helper the tests take from the prompt changes nothing (HumanEval/38's encode_cyclic)", () => {
    const q = bench.problem('humaneval/38');
    const identity = `def encode_cyclic(s):\n    return s\n\ndef decode_cyclic(s):\n    return s\n`;
    expect(bench.verifyPlan('humaneval/38', plan(identity))).toMatchObject({ valid: false });
    expect(bench.verifyPlan('humaneval/38', plan(q.prompt + q.canonicalSolution))).toMatchObject({ valid: true });
  });

  test('a solution that sleeps past the limit, at load or in the function, times out and fails', () => {
    for (const solution of [`import time\ntime.sleep(60)\n${WRONG}`, `${p.prompt}    import time\n    time.sleep(60)\n`]) {
      expect(gradeSolution({ solution, prompt: p.prompt, test: p.test, entryPoint: p.entryPoint }, 2)).toMatchObject({ passed: false, timedOut: true, reason: 'hidden tests timed out' });
    }
  });

  test('the solution runs in its own box (PID namespace), out of sight of its grader', () => {
    const r = gradeSolution({ solution: `import os\nPID = os.getpid()\n${p.prompt}    return os.getpid() <= 2 or os.getppid() == 0\n`, prompt: p.prompt, test: 'def check(candidate):\n    assert candidate([], 0.0) is True\n', entryPoint: p.entryPoint });
    expect(r).toMatchObject({ passed: true, isolation: 'bubblewrap' });
  });
});
