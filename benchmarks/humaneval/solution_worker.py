# The untrusted half of HumanEval grading: loads the candidate solution and answers calls to its entry point
# over a private copy of stdin/stdout, one JSON line per call. It never sees the hidden tests and decides
# nothing: whatever it (or the solution) prints, exits with or writes, the grader only reads return values.
import json, os, resource, socket, sys

resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
resource.setrlimit(resource.RLIMIT_CPU, (10, 10))
resource.setrlimit(resource.RLIMIT_STACK, (64 << 20, 64 << 20))
resource.setrlimit(resource.RLIMIT_FSIZE, (16 << 20, 16 << 20))


def _no_network(*args, **kwargs):
    raise OSError("network access is disabled in the sandbox")


socket.socket = _no_network
socket.create_connection = _no_network
socket.getaddrinfo = _no_network
sys.setrecursionlimit(3000)

# The protocol runs on duplicates of fds 0 and 1; the solution's stdin/stdout are /dev/null.
proto_in = os.fdopen(os.dup(0), "rb", buffering=0)
proto_out = os.fdopen(os.dup(1), "wb", buffering=0)
null = os.open(os.devnull, os.O_RDWR)
os.dup2(null, 0)
os.dup2(null, 1)
sys.stdin = open(os.devnull)
sys.stdout = open(os.devnull, "w")

_type, _list, _tuple, _dict, _set, _frozenset, _repr, _str, _len = type, list, tuple, dict, set, frozenset, repr, str, len


def encode(v, depth=0):
    if depth > 200:
        raise ValueError("the value is nested too deeply")
    t = _type(v)
    if v is None or t is bool or t is str:
        return v
    if t is int:
        return {"i": _str(v)}
    if t is float:
        return {"f": _repr(v)}
    if t is _list:
        return [encode(x, depth + 1) for x in v]
    if t is _tuple:
        return {"t": [encode(x, depth + 1) for x in v]}
    if t is _dict:
        return {"d": [[encode(k, depth + 1), encode(x, depth + 1)] for k, x in v.items()]}
    if t is _set or t is _frozenset:
        return {"s" if t is _set else "fs": [encode(x, depth + 1) for x in v]}
    if t is bytes:
        return {"b": v.hex()}
    raise TypeError("the solution returned a %s, which the grader does not compare" % t.__name__)


def decode(v):
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, list):
        return [decode(x) for x in v]
    (tag, body), = v.items()
    if tag == "i":
        return int(body)
    if tag == "f":
        return float(body)
    if tag == "t":
        return tuple(decode(x) for x in body)
    if tag == "d":
        return {decode(k): decode(x) for k, x in body}
    if tag in ("s", "fs"):
        return (set if tag == "s" else frozenset)(decode(x) for x in body)
    if tag == "b":
        return bytes.fromhex(body)
    raise ValueError("unknown tag " + tag)


def send(message):
    proto_out.write((json.dumps(message) + "\n").encode())


def lines():
    buf = b""
    while True:
        chunk = proto_in.read(65536)
        if not chunk:
            return
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            yield line


def describe(e):
    return ("%s: %s" % (_type(e).__name__, e))[:500]


entry = sys.argv[1]
ns = {"__name__": "__solution__"}
try:
    exec(compile(open("solution.py").read(), "solution.py", "exec"), ns)
    fn = ns[entry]
    if not callable(fn):
        raise TypeError("%s is not a function" % entry)
except BaseException as e:  # SystemExit and KeyboardInterrupt too: the load failed either way
    send({"loaded": False, "error": describe(e)})
    raise SystemExit(0)
send({"loaded": True})

for line in lines():
    try:
        call = json.loads(line)
        args = [decode(a) for a in call["a"]]
        kwargs = {k: decode(a) for k, a in call["k"]}
        result = {"value": encode(fn(*args, **kwargs))}
    except BaseException as e:
        result = {"error": describe(e)}
    send(result)
