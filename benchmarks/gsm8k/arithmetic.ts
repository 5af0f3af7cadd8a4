/**
 * The calculator's language: numbers (with decimals and thousands commas), + - * / ^ %, parentheses and
 * unary minus. A small recursive-descent parser — never eval — so a bad expression is a clear error.
 */
export type Evaluated = { ok: true; value: number } | { ok: false; error: string };

export function evaluateExpression(source: string): Evaluated {
  const text = source.replace(/(\d),(?=\d{3}\b)/g, '$1').replace(/[$\s]/g, '').replace(/[×x]/g, '*').replace(/÷/g, '/');
  let i = 0;
  const fail = (why: string): never => {
    throw new Error(`${why} at position ${i + 1} of "${source}"`);
  };
  const peek = () => text[i];
  const number = (): number => {
    const m = /^\d*\.?\d+(?:e[+-]?\d+)?/i.exec(text.slice(i));
    if (!m) return fail('expected a number');
    i += m[0].length;
    let v = Number(m[0]);
    if (peek() === '%') {
      i++;
      v /= 100;
    }
    return v;
  };
  const primary = (): number => {
    if (peek() === '(') {
      i++;
      const v = sum();
      if (peek() !== ')') fail('expected ")"');
      i++;
      return v;
    }
    if (peek() === '-') {
      i++;
      return -primary();
    }
    if (peek() === '+') {
      i++;
      return primary();
    }
    return number();
  };
  const power = (): number => {
    const base = primary();
    if (peek() === '^' || text.startsWith('**', i)) {
      i += peek() === '^' ? 1 : 2;
      return base ** power();
    }
    return base;
  };
  const product = (): number => {
    let v = power();
    while (peek() === '*' || peek() === '/') {
      const op = text[i++];
      const r = power();
      if (op === '/' && r === 0) fail('division by zero');
      v = op === '*' ? v * r : v / r;
    }
    return v;
  };
  const sum = (): number => {
    let v = product();
    while (peek() === '+' || peek() === '-') {
      const op = text[i++];
      const r = product();
      v = op === '+' ? v + r : v - r;
    }
    return v;
  };
  try {
    if (!text) fail('empty expression');
    const v = sum();
    if (i < text.length) fail(`unexpected "${text[i]}"`);
    if (!Number.isFinite(v)) fail('the result is not a finite number');
    return { ok: true, value: v };
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  }
}

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

/** How many numbers a text holds, read as readNumber reads one ("$1,234.50" is one; a malformed one counts too). */
export function countNumbers(text: string): number {
  return numberTokens(text).length;
}

export function sameNumber(a: number, b: number): boolean {
  return Math.abs(a - b) <= Math.max(1e-6, 1e-9 * Math.abs(b));
}

/** Renders a calculator result: integers plainly, others to at most 6 decimals. */
export function formatNumber(v: number): string {
  return Number.isInteger(v) ? String(v) : String(Number(v.toFixed(6)));
}
