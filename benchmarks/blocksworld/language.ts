/**
 * PlanBench's natural-language rendering of blocksworld (config.yaml: encoded_objects, predicates), and
 * the reverse reading of such text. The simulator uses the reader the way an LLM reads the prompt.
 */

export const DEFAULT_COLOURS: Record<string, string> = {
  a: 'red', b: 'blue', c: 'orange', d: 'yellow', e: 'white', f: 'magenta',
  g: 'black', h: 'cyan', i: 'green', j: 'violet', k: 'silver', l: 'gold',
};

export function renderFact(atom: string, colour: (o: string) => string): string {
  const [pred, x, y] = atom.split(' ');
  switch (pred) {
    case 'clear':
      return `the ${colour(x)} block is clear`;
    case 'ontable':
      return `the ${colour(x)} block is on the table`;
    case 'handempty':
      return 'the hand is empty';
    case 'holding':
      return `the hand is currently holding ${colour(x)} block`;
    case 'on':
      return `the ${colour(x)} block is on top of the ${colour(y)} block`;
    default:
      return atom;
  }
}

export function joinFacts(facts: string[]): string {
  if (facts.length <= 1) return facts.join('');
  return `${facts.slice(0, -1).join(', ')} and ${facts[facts.length - 1]}`;
}

/** Reads blocksworld facts out of text, in PlanBench's wording (any list or prose layout). */
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

export const TOOL_TO_ACTION: Record<string, string> = { pick_up: 'pick-up', put_down: 'put-down', stack: 'stack', unstack: 'unstack' };
export const ACTION_TO_TOOL: Record<string, string> = Object.fromEntries(Object.entries(TOOL_TO_ACTION).map(([k, v]) => [v, k]));
export const ACTION_PHRASES: Record<string, string> = {
  pick_up: 'pick up the {block} block',
  put_down: 'put down the {block} block',
  stack: 'stack the {block} block on top of the {target} block',
  unstack: 'unstack the {block} block from on top of the {target} block',
};

export function phraseFor(tool: string, args: Record<string, unknown>): string {
  return (ACTION_PHRASES[tool] ?? tool).replace('{block}', String(args.block)).replace('{target}', String(args.target));
}
