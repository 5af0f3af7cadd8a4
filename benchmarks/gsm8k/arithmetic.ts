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

/** GSM8K-style number reading: "$1,234.50", "18 dollars", "-3" → the number; null when there is none. */
export function readNumber(text: string): number | null {
  const m = /-?\d[\d,]*(?:\.\d+)?|-?\.\d+/.exec(String(text).replace(/(\d),(?=\d{3}\b)/g, '$1'));
  return m ? Number(m[0].replace(/,/g, '')) : null;
}

/** How many numbers a text holds, read as readNumber reads one ("$1,234.50" is one). */
export function countNumbers(text: string): number {
  return (String(text).replace(/(\d),(?=\d{3}\b)/g, '$1').match(/-?\d[\d,]*(?:\.\d+)?|-?\.\d+/g) ?? []).length;
}

export function sameNumber(a: number, b: number): boolean {
  return Math.abs(a - b) <= Math.max(1e-6, 1e-9 * Math.abs(b));
}

/** Renders a calculator result: integers plainly, others to at most 6 decimals. */
export function formatNumber(v: number): string {
  return Number.isInteger(v) ? String(v) : String(Number(v.toFixed(6)));
}
