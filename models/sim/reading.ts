/**
 * How the simulator reads and writes the text of its prompts: numbers, blocksworld facts and moves, a shop
 * page's option selection. Deliberately its own copy, not the benchmarks' parsers: models/ may not import
 * benchmarks/ (the two layers meet only in harness/), and a model's reading of a prompt is its own, not the
 * verifier's. tests/unit/sim-reading.test.ts checks that these readings agree with the benchmarks' on every
 * shipped task, so the copies cannot drift apart unnoticed.
 */

// GSM8K's number reading (issue 27): a sign (ASCII "-", U+2212 "−", or the word minus/negative), digits whose
// commas are thousands separators in valid positions only ("1,234" yes; "1,8", "18,00", "1,87,5" are no number),
// decimals; a number followed by "%" or a superscript or subscript digit ("18%", "18²") is not a plain number.
const NUMBER_CANDIDATE = /(?:\b(?:minus|negative)\s+|[-\u2212])?(?:\d[\d,]*(?:\.\d+)?|\.\d+)/gi;
const NEGATIVE = /^(?:(?:minus|negative)\s+|[-\u2212])/i;
const WELL_GROUPED = /^(?:(?:\d+|\d{1,3}(?:,\d{3})+)(?:\.\d+)?|\.\d+)$/;
const NOT_PLAIN_AFTER = /^[%\u00b2\u00b3\u00b9\u2070-\u209f]/;

/** Every number-like token of a text in order: its value, or null when it is malformed ("1,8", "18%"). */
function numberTokens(text: string): Array<number | null> {
  const s = String(text);
  const out: Array<number | null> = [];
  for (const m of s.matchAll(NUMBER_CANDIDATE)) {
    const negative = NEGATIVE.test(m[0]);
    // A comma that ends the token is the sentence's ("18, then 20"), not the number's.
    const digits = m[0].replace(NEGATIVE, '').replace(/,+$/, '');
    const after = s.slice(m.index! + m[0].length - (m[0].length - m[0].replace(/,+$/, '').length));
    const plain = WELL_GROUPED.test(digits) && !NOT_PLAIN_AFTER.test(after);
    out.push(plain ? (negative ? -1 : 1) * Number(digits.replace(/,/g, '')) : null);
  }
  return out;
}

/** GSM8K-style number reading: "$1,234.50", "18 dollars", "−3", "minus 3" → the number; null when there is none or it is malformed. */
export function readNumber(text: string): number | null {
  return numberTokens(text)[0] ?? null;
}


export function sameNumber(a: number, b: number): boolean {
  return Math.abs(a - b) <= Math.max(1e-6, 1e-9 * Math.abs(b));
}

/** A number as a calculator shows it: integers plainly, others to at most 6 decimals. */
export function formatNumber(v: number): string {
  return Number.isInteger(v) ? String(v) : String(Number(v.toFixed(6)));
}

/** Blocksworld facts in PlanBench's wording (any list or prose layout). */
export function readFacts(text: string): { clear: Set<string>; ontable: Set<string>; on: Map<string, string>; holding: string | null; handEmpty: boolean } {
  const clear = new Set<string>();
  const ontable = new Set<string>();
  const on = new Map<string, string>();
  let holding: string | null = null;
  for (const m of text.matchAll(/the (\w+) block is clear/g)) clear.add(m[1]);
  for (const m of text.matchAll(/the (\w+) block is on the table/g)) ontable.add(m[1]);
  for (const m of text.matchAll(/the (\w+) block is on top of the (\w+) block/g)) on.set(m[1], m[2]);
  const h = /holding (?:the )?(\w+) block/.exec(text);
  if (h) holding = h[1];
  return { clear, ontable, on, holding, handEmpty: /the hand is empty/.test(text) };
}

const MOVE_PHRASES: Record<string, string> = {
  pick_up: 'pick up the {block} block',
  put_down: 'put down the {block} block',
  stack: 'stack the {block} block on top of the {target} block',
  unstack: 'unstack the {block} block from on top of the {target} block',
};

/** A blocksworld move in PlanBench's words ("stack the red block on top of the blue block"). */
export function phraseFor(tool: string, args: Record<string, unknown>): string {
  return (MOVE_PHRASES[tool] ?? tool).replace('{block}', String(args.block)).replace('{target}', String(args.target));
}

/** A shop page's selection ("color:red;size:L") → option values by name. */
export function parseSelection(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.split(';').filter(Boolean)) {
    const i = part.indexOf(':');
    if (i > 0) out[part.slice(0, i)] = part.slice(i + 1);
  }
  return out;
}
