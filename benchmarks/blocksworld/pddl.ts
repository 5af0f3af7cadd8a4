/** A small PDDL reader for STRIPS domains and problems (the subset PlanBench blocksworld uses). */

export type SExpr = string | SExpr[];

export function parseSExpr(text: string): SExpr {
  const tokens = text
    .replace(/;[^\n]*/g, '')
    .replace(/\(/g, ' ( ')
    .replace(/\)/g, ' ) ')
    .split(/\s+/)
    .filter(Boolean);
  let i = 0;
  const read = (): SExpr => {
    const t = tokens[i++];
    if (t === undefined) throw new Error('PDDL: unexpected end of input');
    if (t === '(') {
      const list: SExpr[] = [];
      while (tokens[i] !== ')') {
        if (i >= tokens.length) throw new Error('PDDL: missing ")"');
        list.push(read());
      }
      i++;
      return list;
    }
    if (t === ')') throw new Error('PDDL: unexpected ")"');
    return t.toLowerCase();
  };
  const expr = read();
  if (i !== tokens.length) throw new Error('PDDL: text after the top-level expression');
  return expr;
}

/** An atom such as ["on", "a", "b"]; serialised as "on a b". */
export type Atom = string[];
export const atomKey = (atom: Atom) => atom.join(' ');

export interface ActionSchema {
  name: string;
  parameters: string[];
  precondition: Atom[];
  add: Atom[];
  del: Atom[];
}
export interface Domain {
  name: string;
  actions: Map<string, ActionSchema>;
}
export interface Problem {
  name: string;
  objects: string[];
  init: Atom[];
  goal: Atom[];
}

function section(list: SExpr[], key: string): SExpr | undefined {
  const i = list.indexOf(key);
  return i === -1 ? undefined : list[i + 1];
}

function conjunction(expr: SExpr | undefined): { pos: Atom[]; neg: Atom[] } {
  const pos: Atom[] = [];
  const neg: Atom[] = [];
  if (expr === undefined) return { pos, neg };
  const items = Array.isArray(expr) && expr[0] === 'and' ? expr.slice(1) : [expr];
  for (const item of items) {
    if (!Array.isArray(item)) throw new Error(`PDDL: expected an atom, got "${item}"`);
    if (item[0] === 'not') neg.push((item[1] as SExpr[]).map(String));
    else pos.push(item.map(String));
  }
  return { pos, neg };
}

export function parseDomain(text: string): Domain {
  const expr = parseSExpr(text);
  if (!Array.isArray(expr) || expr[0] !== 'define') throw new Error('PDDL domain: expected (define …)');
  const name = String((expr.find((e) => Array.isArray(e) && e[0] === 'domain') as SExpr[] | undefined)?.[1] ?? '');
  const actions = new Map<string, ActionSchema>();
  for (const item of expr) {
    if (!Array.isArray(item) || item[0] !== ':action') continue;
    const actionName = String(item[1]);
    const params = (section(item, ':parameters') as SExpr[] | undefined) ?? [];
    const effect = conjunction(section(item, ':effect'));
    actions.set(actionName, {
      name: actionName,
      parameters: params.map(String),
      precondition: conjunction(section(item, ':precondition')).pos,
      add: effect.pos,
      del: effect.neg,
    });
  }
  return { name, actions };
}

export function parseProblem(text: string): Problem {
  const expr = parseSExpr(text);
  if (!Array.isArray(expr) || expr[0] !== 'define') throw new Error('PDDL problem: expected (define …)');
  const get = (key: string) => expr.find((e) => Array.isArray(e) && e[0] === key) as SExpr[] | undefined;
  const name = String(get('problem')?.[1] ?? '');
  const objects = (get(':objects') ?? []).slice(1).map(String);
  const init = (get(':init') ?? []).slice(1).map((a) => (a as SExpr[]).map(String));
  const goalExpr = get(':goal')?.[1];
  return { name, objects, init, goal: conjunction(goalExpr).pos };
}
