/**
 * Guest JavaScript evaluated in every sandbox context before the untrusted program, holding the two
 * things QuickJS's interrupt ticks cannot give: work done inside builtins, and a deterministic world.
 *
 * - Builtins charge work. QuickJS polls its interrupt handler on calls and backward jumps only, so a
 *   builtin's inner loop (`Array(1e9).join()`, a sparse `indexOf`, `'x'.repeat(1 << 20)` ten thousand times
 *   between two ticks) costs no ticks and ran for minutes. Every builtin whose running time grows with its
 *   input is wrapped: before it runs, the wrapper charges its input size (array length, string lengths) to
 *   the call's work budget through the host's `charge`, and after it, the size of what it made. A call whose
 *   charge passes the budget never starts the builtin, so the verdict is a count of work, never a duration.
 *   The wrappers replace the builtins as non-writable, non-configurable properties and hold the originals
 *   in this closure only: the program can neither reach the unmetered builtin nor put its own in place.
 *   Inputs are measured once and handed to the builtin already converted (a primitive string), so a
 *   `toString` or `length` that answers differently the second time cannot hide work.
 * - Time and chance are deterministic. `Date.now()` and `new Date()` read a clock that starts at a fixed
 *   instant and advances one millisecond per reading; `Math.random()` is a PRNG seeded by the host for this
 *   call (from the call's input: its episode, step and state). The same input gets the same output on any
 *   machine at any time, and no "time bomb" can tell the gate from production.
 *
 * `__hx_charge(units)` (installed by the host, removed here) adds units and returns true once the budget is
 * spent; the wrapper then throws, and the host reports the call as over its work limit even if the program
 * catches the error (quickjs-sandbox.ts).
 */
export const GUEST_PRELUDE = `(function (charge, seed) {
  'use strict';
  var G = globalThis;
  var rapply = Reflect.apply, define = Object.defineProperty, gopd = Object.getOwnPropertyDescriptor, getProto = Object.getPrototypeOf;
  var isArray = Array.isArray, toStr = String, MathLog2 = Math.log2, MathCeil = Math.ceil, MathFloor = Math.floor, imul = Math.imul;
  var construct = Reflect.construct, RegExpCtor = RegExp;
  var TypedArrayProto = getProto(Uint8Array.prototype);
  var taLength = gopd(TypedArrayProto, 'length').get;
  var MAX = 9007199254740991;
  function spend(units) {
    if (units > 0 && charge(units)) throw new RangeError('work limit reached inside a builtin');
  }
  function num(n) { n = +n; return n > 0 ? (n < MAX ? n : MAX) : 0; }
  // An array-like's length, read once. Real arrays and typed arrays report theirs exactly; any other object
  // must hold its length as plain data (a getter could answer 1 here and 2^32 to the builtin).
  function arrayLength(o) {
    if (o === null || o === undefined) return 0;
    var obj = Object(o);
    if (isArray(obj)) return num(obj.length);
    try { return num(rapply(taLength, obj, [])); } catch (e) {}
    for (var p = obj; p !== null; p = getProto(p)) {
      var d = gopd(p, 'length');
      if (d) {
        if (d.get || d.set || (d.value !== undefined && typeof d.value !== 'number')) throw new TypeError('array methods in the sandbox need a numeric data property "length"');
        return num(d.value);
      }
    }
    return 0;
  }
  function sizeOf(v) { return typeof v === 'string' ? v.length : 0; }
  // Units are interrupt polls (a loop iteration or call of guest code, a few tens of nanoseconds). An array
  // element a builtin visits costs about one; copying or scanning characters about a sixteenth; JSON about a
  // quarter per character.
  function chars(n) { return MathCeil(n / 16); }
  function jsonChars(n) { return MathCeil(n / 4); }
  function lock(obj, name, value) { define(obj, name, { value: value, writable: false, enumerable: false, configurable: false }); }
  function named(name, fn) { define(fn, 'name', { value: name }); return fn; }

  // Array.prototype methods whose work grows with the receiver's length (and their arguments' for concat).
  var arrayMethods = ['join', 'toString', 'toLocaleString', 'indexOf', 'lastIndexOf', 'includes', 'fill', 'reverse', 'slice', 'splice',
    'shift', 'unshift', 'copyWithin', 'every', 'some', 'forEach', 'map', 'filter', 'reduce', 'reduceRight', 'find', 'findIndex',
    'findLast', 'findLastIndex', 'flat', 'flatMap', 'concat', 'sort', 'toReversed', 'toSorted', 'toSpliced', 'with'];
  function meterArrays(proto) {
    arrayMethods.forEach(function (name) {
      var orig = proto[name];
      if (typeof orig !== 'function') return;
      lock(proto, name, named(name, function () {
        var n = arrayLength(this);
        if (name === 'sort' || name === 'toSorted') n = n * MathCeil(MathLog2(n + 2));
        if (name === 'concat') for (var i = 0; i < arguments.length; i++) n += isArray(arguments[i]) ? num(arguments[i].length) : 1;
        spend(n + 1);
        return rapply(orig, this, arguments);
      }));
    });
  }
  meterArrays(Array.prototype);
  meterArrays(TypedArrayProto);

  // String.prototype methods: the receiver and string arguments are converted once, charged, and passed on
  // as primitives. Searches charge a share of length × pattern length (the engine's search is naive).
  var stringMethods = ['indexOf', 'lastIndexOf', 'includes', 'startsWith', 'endsWith', 'split', 'replace', 'replaceAll', 'match',
    'matchAll', 'search', 'concat', 'repeat', 'padStart', 'padEnd', 'trim', 'trimStart', 'trimEnd', 'toUpperCase', 'toLowerCase',
    'toLocaleUpperCase', 'toLocaleLowerCase', 'normalize', 'localeCompare', 'slice', 'substring', 'substr', 'at', 'charAt',
    'charCodeAt', 'codePointAt', 'isWellFormed', 'toWellFormed'];
  // Constant-time reads (copies are charged by their result). No prototype: the program's additions to
  // Object.prototype cannot make a search look constant.
  var constant = Object.create(null);
  ['at', 'charAt', 'charCodeAt', 'codePointAt', 'slice', 'substring', 'substr'].forEach(function (name) { constant[name] = true; });
  stringMethods.forEach(function (name) {
    var orig = String.prototype[name];
    if (typeof orig !== 'function') return;
    lock(String.prototype, name, named(name, function () {
      if (this === null || this === undefined) throw new TypeError('String.prototype.' + name + ' called on null or undefined');
      var s = typeof this === 'string' ? this : toStr(this);
      var args = [];
      var longest = 0;
      for (var i = 0; i < arguments.length; i++) {
        var a = arguments[i];
        // Regular expressions keep their own protocol (their steps tick); other objects become strings once.
        if (a !== null && typeof a === 'object' && !(a instanceof RegExpCtor)) a = toStr(a);
        // defineProperty, not push or assignment: neither consults what the program put on Array.prototype.
        define(args, i, { value: a, writable: true, enumerable: true, configurable: true });
        if (sizeOf(a) > longest) longest = sizeOf(a);
      }
      var units = constant[name] ? 1 : chars(s.length + longest) + 1;
      if (longest > 1 && !constant[name]) units += MathFloor((s.length * longest) / 64);
      if (name === 'repeat') units += chars(s.length * num(args[0]));
      if (name === 'padStart' || name === 'padEnd') units += chars(num(args[0]));
      spend(units);
      var out = rapply(orig, s, args);
      spend(chars(sizeOf(out)));
      return out;
    }));
  });

  // Functions of a whole value: charge what they read or what they made.
  function meterAfter(obj, name, size) {
    var orig = obj[name];
    lock(obj, name, named(name, function () { var out = rapply(orig, this, arguments); spend(size(out)); return out; }));
  }
  var parse = JSON.parse;
  lock(JSON, 'parse', named('parse', function (text, reviver) { var t = toStr(text); spend(jsonChars(t.length) + 1); return rapply(parse, JSON, [t, reviver]); }));
  meterAfter(JSON, 'stringify', function (out) { return jsonChars(sizeOf(out)); });
  ['keys', 'values', 'entries', 'getOwnPropertyNames'].forEach(function (name) { meterAfter(Object, name, function (out) { return out.length; }); });
  meterAfter(Array, 'from', function (out) { return num(out.length); });
  meterAfter(String, 'fromCharCode', function (out) { return chars(sizeOf(out)); });
  meterAfter(String, 'fromCodePoint', function (out) { return chars(sizeOf(out)); });

  // Deterministic time: a fixed start (2026-01-01T00:00:00Z), one millisecond later at each reading.
  var RealDate = Date;
  var clock = 1767225600000;
  function tick() { return clock++; }
  function HxDate() {
    // Date() without new ignores its arguments and gives the current time as text, as the real one does.
    if (!new.target) return toStr(new RealDate(tick()));
    var args = [];
    if (arguments.length === 0) define(args, 0, { value: tick(), writable: true, enumerable: true, configurable: true });
    else for (var i = 0; i < arguments.length; i++) define(args, i, { value: arguments[i], writable: true, enumerable: true, configurable: true });
    return construct(RealDate, args, new.target);
  }
  HxDate.prototype = RealDate.prototype;
  lock(RealDate.prototype, 'constructor', HxDate);
  lock(HxDate, 'now', function now() { return tick(); });
  lock(HxDate, 'parse', RealDate.parse);
  lock(HxDate, 'UTC', RealDate.UTC);
  lock(G, 'Date', HxDate);

  // Deterministic chance: mulberry32 seeded by the host.
  var state = seed >>> 0;
  lock(Math, 'random', function random() {
    state = (state + 0x6d2b79f5) >>> 0;
    var t = state;
    t = imul(t ^ (t >>> 15), t | 1);
    t ^= t + imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  });
})(globalThis.__hx_charge, globalThis.__hx_seed);
delete globalThis.__hx_charge;
delete globalThis.__hx_seed;
`;
