# The trusted half of HumanEval grading. It reads the job (a nonce, the task's prompt and hidden tests) from
# stdin, never executes the candidate's code itself, and runs check() here with `candidate` a proxy that
# forwards each call to solution_worker.py in a separate process (its own user, PID and network namespaces
# where the machine allows). The verdict is one line on this process's stdout, prefixed by the nonce, which
# exists only in this process's memory; this process is made non-dumpable first, so another process of the
# same user can neither read its memory nor open its file descriptors (/proc/<pid>/fd/1).
import ctypes, json, os, select, signal, subprocess, sys, time, traceback

try:
    ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 4
except Exception:
    pass

job = json.loads(sys.stdin.buffer.read())
# The verdict goes to a private duplicate of stdout taken now, before the tests (which may print) run.
verdict_out = os.fdopen(os.dup(1), "w")
nonce = job["nonce"]
deadline = time.monotonic() + job["seconds"]
MAX_LINE = 8 << 20


def verdict(passed, reason, timed_out=False):
    verdict_out.write("%s %s\n" % (nonce, json.dumps({"passed": passed, "reason": reason[:600], "timedOut": timed_out})))
    verdict_out.flush()


class TimedOut(BaseException):
    """Raised through the tests (a BaseException, so no `except Exception` in a test can swallow it)."""


class SolutionError(Exception):
    pass


def encode(v, depth=0):
    if depth > 200:
        raise ValueError("argument nested too deeply")
    t = type(v)
    if v is None or t is bool or t is str:
        return v
    if t is int:
        return {"i": str(v)}
    if t is float:
        return {"f": repr(v)}
    if t is list:
        return [encode(x, depth + 1) for x in v]
    if t is tuple:
        return {"t": [encode(x, depth + 1) for x in v]}
    if t is dict:
        return {"d": [[encode(k, depth + 1), encode(x, depth + 1)] for k, x in v.items()]}
    if t in (set, frozenset):
        return {"s" if t is set else "fs": [encode(x, depth + 1) for x in v]}
    if t is bytes:
        return {"b": v.hex()}
    raise TypeError("the grader cannot pass a %s to the solution" % t.__name__)


def decode(v, depth=0):
    """The solution's answer as plain values only: nothing it sends can carry its own __eq__."""
    if depth > 200:
        raise SolutionError("the solution's answer is nested too deeply")
    if v is None or type(v) in (bool, str):
        return v
    if type(v) is list:
        return [decode(x, depth + 1) for x in v]
    if type(v) is dict and len(v) == 1:
        (tag, body), = v.items()
        if tag == "i" and type(body) is str and len(body) <= 5000:
            return int(body)
        if tag == "f" and type(body) is str:
            return float(body)
        if tag == "t" and type(body) is list:
            return tuple(decode(x, depth + 1) for x in body)
        if tag == "d" and type(body) is list and all(type(p) is list and len(p) == 2 for p in body):
            return {decode(k, depth + 1): decode(x, depth + 1) for k, x in body}
        if tag in ("s", "fs") and type(body) is list:
            return (set if tag == "s" else frozenset)(decode(x, depth + 1) for x in body)
        if tag == "b" and type(body) is str:
            return bytes.fromhex(body)
    raise SolutionError("the solution's answer is malformed")


def set_parent_death_signal():
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG = 1
    except Exception:
        pass


worker = subprocess.Popen(
    job["command"],
    cwd=job["solutionDir"],
    stdin=subprocess.PIPE,
    stdout=subprocess.PIPE,
    stderr=subprocess.DEVNULL,
    env={"PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"},
    start_new_session=True,
    preexec_fn=set_parent_death_signal,
)
w_in, w_out = worker.stdin.fileno(), worker.stdout.fileno()
os.set_blocking(w_in, False)
buffered = b""


def send(message):
    data = (json.dumps(message) + "\n").encode()
    while data:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimedOut()
        _, writable, _ = select.select([], [w_in], [], remaining)
        if writable:
            try:
                data = data[os.write(w_in, data):]
            except BrokenPipeError:
                raise SolutionError("the solution's process exited (%s)" % exit_status())


def receive():
    global buffered
    while b"\n" not in buffered:
        if len(buffered) > MAX_LINE:
            raise SolutionError("the solution's answer is too large")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimedOut()
        readable, _, _ = select.select([w_out], [], [], remaining)
        if readable:
            chunk = os.read(w_out, 1 << 16)
            if not chunk:
                raise SolutionError("the solution's process exited (%s)" % exit_status())
            buffered += chunk
    line, buffered = buffered.split(b"\n", 1)
    try:
        return json.loads(line)
    except ValueError:
        raise SolutionError("the solution's process wrote something that is not an answer")


def exit_status():
    try:
        code = worker.wait(timeout=1)
    except subprocess.TimeoutExpired:
        return "still running"
    return "exit code %d" % code if code >= 0 else "killed by signal %d" % -code


def candidate(*args, **kwargs):
    send({"a": [encode(a) for a in args], "k": [[k, encode(v)] for k, v in kwargs.items()]})
    answer = receive()
    if type(answer) is not dict:
        raise SolutionError("the solution's process wrote something that is not an answer")
    if "error" in answer:
        raise SolutionError("the solution raised %s" % str(answer["error"])[:300])
    if "value" not in answer:
        raise SolutionError("the solution's process wrote something that is not an answer")
    return decode(answer["value"])


def kill_worker():
    try:
        os.killpg(worker.pid, signal.SIGKILL)
    except OSError:
        pass
    try:
        worker.kill()
        worker.wait(timeout=5)
    except Exception:
        pass


try:
    # The task's own definitions (helpers such as poly or encode_cyclic come from the prompt, never from
    # the candidate, so redefining them in the solution changes nothing here), then the hidden tests.
    tests = {"__name__": "__tests__"}
    exec(compile(job["prompt"], "prompt.py", "exec"), tests)
    # Some tests call the function by its name rather than as `candidate`: that name is the proxy too.
    tests[job["entryPoint"]] = candidate
    exec(compile(job["test"], "tests.py", "exec"), tests)
    loaded = receive()
    if type(loaded) is not dict or loaded.get("loaded") is not True:
        error = loaded.get("error") if type(loaded) is dict else None
        raise SolutionError("the solution does not load: %s" % str(error or "no answer")[:300])
    tests["check"](candidate)
    verdict(True, "hidden tests passed")
except TimedOut:
    verdict(False, "hidden tests timed out", True)
except SolutionError as e:
    verdict(False, "hidden tests failed: %s" % e)
except BaseException as e:
    frames = [f for f in traceback.extract_tb(e.__traceback__) if f.filename == "tests.py"]
    test_lines = job["test"].split("\n")
    where = " at tests.py line %d: %s" % (frames[-1].lineno, test_lines[frames[-1].lineno - 1].strip()[:200]) if frames and 0 < frames[-1].lineno <= len(test_lines) else ""
    verdict(False, "hidden tests failed: %s%s" % ("".join(traceback.format_exception_only(type(e), e)).strip()[:200], where))
finally:
    kill_worker()
