import { gradeSolution, GradeRun, runPython } from '../../benchmarks/humaneval/python-sandbox';

/**
 * What a task model's code tried from outside (issue 27): read the benchmark's data and other episodes'
 * folders, open the grader (or any host file it could write) for writing, write the host's /tmp, leave a
 * process behind, see the host's processes, reach a loopback server. Each probe is the body of `probe()`,
 * which returns "nothing" when the box stopped it, or what it achieved; the caller also checks the host
 * afterwards (files unchanged, no file in /tmp, no process left), since a probe cannot report those itself.
 * Run as a script (`node -r tsx/cjs box-probes.ts '<context json>'`) it prints the results as JSON, so a
 * test can run the same probes as an unprivileged user.
 */
export interface ProbeContext {
  dataDir: string;
  /** Host files the probe must not be able to open for writing (opened with r+: nothing is changed if it can). */
  writeTargets: string[];
  /** A unique name: the /tmp file and the left-behind process carry it, so the host can be searched for them. */
  marker: string;
  hostPid: number;
  loopbackPort: number;
}

export function probes(c: ProbeContext): Record<string, string> {
  const py = JSON.stringify;
  return {
    'reads the data and other episodes': `import glob
    found = glob.glob("/*/*/benchmarks/humaneval/data/*.jsonl") + glob.glob(${py(c.dataDir)} + "/*.jsonl") + glob.glob("/tmp/hx-*")
    return "found %s" % found[:3] if found else "nothing"`,
    'opens the grader for writing': `opened = []
    for path in ${py(c.writeTargets)}:
        try:
            open(path, "r+").close()
            opened.append(path)
        except OSError:
            pass
    return "opened %s" % opened if opened else "nothing"`,
    "writes the host's /tmp": `open("/tmp/${c.marker}", "w").write("left behind")
    return "nothing"`,
    'leaves a process behind': `import subprocess, sys
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)  # ${c.marker}"], start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return "nothing"`,
    'sees host processes': `import os
    pids = [p for p in os.listdir("/proc") if p.isdigit()]
    return "sees %d processes" % len(pids) if os.path.exists("/proc/${c.hostPid}") or len(pids) > 5 else "nothing"`,
    'reaches a loopback server': `import _socket
    s = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect(("127.0.0.1", ${c.loopbackPort}))
        return "connected"
    except OSError:
        return "nothing"`,
  };
}

export interface ProbeResult {
  /** What probe() printed when run as a `run_examples`-style program. */
  examples: string;
  /** The hidden-test verdict for a solution whose function returns probe(): passes only when it returned "nothing". */
  graded: Pick<GradeRun, 'passed' | 'reason' | 'isolation'>;
}

export function runProbes(c: ProbeContext): Record<string, ProbeResult> {
  const out: Record<string, ProbeResult> = {};
  for (const [name, body] of Object.entries(probes(c))) {
    const code = `def probe():\n    ${body}\n`;
    const run = runPython({}, `${code}print(probe())\n`);
    const graded = gradeSolution({ solution: `${code}def f():\n    return probe()\n`, prompt: '', test: 'def check(candidate):\n    assert candidate() == "nothing", candidate()\n', entryPoint: 'f' });
    out[name] = { examples: (run.stdout.trim() || run.stderr.trim().split('\n').pop()) ?? '', graded: { passed: graded.passed, reason: graded.reason, isolation: graded.isolation } };
  }
  return out;
}

if (require.main === module) process.stdout.write(JSON.stringify(runProbes(JSON.parse(process.argv[2]) as ProbeContext)));
