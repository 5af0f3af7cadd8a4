/**
 * How the simulator reads and writes the text of its prompts: numbers, blocksworld facts and moves, a shop
 * page's option selection. Deliberately its own copy, not the benchmarks' parsers: models/ may not import
 * benchmarks/ (the two layers meet only in harness/), and a model's reading of a prompt is its own, not the
 * verifier's. tests/unit/sim-reading.test.ts checks that these readings agree with the benchmarks' on every
 * shipped task, so the copies cannot drift apart unnoticed.
 */

/** A number in text, GSM8K-style: "$1,234.50", "18 dollars", "-3" → the number; null when there is none. */
export function readNumber(text: string): number | null {
  const m = /-?\d[\d,]*(?:\.\d+)?|-?\.\d+/.exec(String(text).replace(/(\d),(?=\d{3}\b)/g, '$1'));
  return m ? Number(m[0].replace(/,/g, '')) : null;
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
