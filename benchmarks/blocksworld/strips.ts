import { Atom, atomKey, Domain, Problem } from './pddl';

export type State = Set<string>;

export interface GroundAction {
  name: string;
  args: string[];
}

export function initialState(problem: Problem): State {
  return new Set(problem.init.map(atomKey));
}

function ground(atoms: Atom[], params: string[], args: string[]): string[] {
  return atoms.map((atom) => atomKey(atom.map((t) => (t.startsWith('?') ? args[params.indexOf(t)] : t))));
}

/** The precondition atoms an action needs that do not hold, or null when it is applicable. */
export function missingPreconditions(domain: Domain, state: State, action: GroundAction): string[] | null {
  const schema = domain.actions.get(action.name);
  if (!schema) return [`unknown action ${action.name}`];
  if (schema.parameters.length !== action.args.length) return [`${action.name} takes ${schema.parameters.length} arguments`];
  const missing = ground(schema.precondition, schema.parameters, action.args).filter((a) => !state.has(a));
  return missing.length ? missing : null;
}

export function apply(domain: Domain, state: State, action: GroundAction): State {
  const schema = domain.actions.get(action.name)!;
  const next = new Set(state);
  for (const a of ground(schema.del, schema.parameters, action.args)) next.delete(a);
  for (const a of ground(schema.add, schema.parameters, action.args)) next.add(a);
  return next;
}

export function goalHolds(state: State, goal: Atom[]): boolean {
  return goal.every((g) => state.has(atomKey(g)));
}

/** Applicable ground actions in a state (objects taken pairwise for two-parameter schemas). */
export function applicableActions(domain: Domain, state: State, objects: string[]): GroundAction[] {
  const out: GroundAction[] = [];
  for (const schema of domain.actions.values()) {
    const combos: string[][] =
      schema.parameters.length === 1
        ? objects.map((o) => [o])
        : objects.flatMap((a) => objects.filter((b) => b !== a).map((b) => [a, b]));
    for (const args of combos) if (!missingPreconditions(domain, state, { name: schema.name, args })) out.push({ name: schema.name, args });
  }
  return out;
}

/** The STRIPS plan verifier: every action applicable in turn, and the goal true at the end. */
export function validatePlan(domain: Domain, problem: Problem, plan: GroundAction[]): { valid: boolean; reason: string } {
  let state = initialState(problem);
  for (let i = 0; i < plan.length; i++) {
    const missing = missingPreconditions(domain, state, plan[i]);
    if (missing) return { valid: false, reason: `step ${i + 1} (${plan[i].name} ${plan[i].args.join(' ')}): unmet ${missing.join(', ')}` };
    state = apply(domain, state, plan[i]);
  }
  return goalHolds(state, problem.goal) ? { valid: true, reason: 'goal reached' } : { valid: false, reason: 'plan ends without reaching the goal' };
}
