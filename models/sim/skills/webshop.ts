import type { SimulatorBrief } from '../../../harness/task-brief';
import type { ModelRequest, ToolCall } from '../../../harness/types';
import type { ContextSignals, SimProfile } from '../profile';
import { parseSelection } from '../reading';
import type { SkillDecision } from './types';

/**
 * The simulator's WebShop skill: it knows which product and options the instruction asks for (it reads the
 * goal the way a model would, here from the benchmark's brief once the goal sentence is in view) and
 * navigates the text pages: search, open the product, select each requested option, buy. It errs at its
 * profile's harness-dependent rates: clicking something that is not on the page ("invalid"; listing the
 * page's actions makes this rare), going back to a page it already saw ("loop"), buying before every option
 * is selected ("subgoal"), prose instead of a call ("format").
 */
export function matches(request: ModelRequest): boolean {
  return request.tools.some((t) => t.name === 'click') && request.tools.some((t) => t.name === 'search');
}

export function decideWebShop(request: ModelRequest, signals: ContextSignals, rates: SimProfile, u: (kind: string) => number, brief?: SimulatorBrief): SkillDecision {
  const first = request.messages.find((m) => m.role === 'user')?.content ?? '';
  const goal = brief?.benchmark === 'webshop' && /I am looking for [^\n]*dollars\./.exec(first)?.[0] === brief.goalLine ? brief : null;
  if (!goal) return { kind: 'lost', text: 'I do not know what to buy.' };
  const latest = [...request.messages].reverse().find((m) => (m.role === 'tool' || m.role === 'user') && /Current state:/.test(m.content))?.content ?? first;
  const state = latest.slice(latest.lastIndexOf('Current state:') + 'Current state:'.length).trim();
  const labels = [...latest.matchAll(/\[([^\]]+)\]/g)].map((m) => m[1].replace(/ \(selected\)$/, ''));
  const click = (element: string): Omit<ToolCall, 'id'> => ({ name: 'click', args: { element } });
  const wanted = goal.options.map((o) => ({ k: o.name, v: o.value, label: o.label, otherLabel: o.otherLabel }));

  if (request.purpose === 'plan') return { kind: 'plan', lines: [`click {"element": "${goal.productName}"}`, ...wanted.map((w) => `click {"element": "${w.label}"}`), 'click {"element": "Buy Now"}'] };

  let intended: Omit<ToolCall, 'id'>;
  const onTarget = state.startsWith(`product page ${goal.productName}`);
  const selected = parseSelection(/selected (.+)$/.exec(state)?.[1] ?? '');
  const missing = wanted.filter((w) => selected[w.k] !== w.v);
  if (state.startsWith('search page')) intended = { name: 'search', args: { query: `${goal.productName} ${wanted.map((w) => w.v).join(' ')}` } };
  else if (state.startsWith('results')) intended = labels.includes(goal.productName) ? click(goal.productName) : labels.includes('Next >') ? click('Next >') : click('Back to Search');
  else if (onTarget) intended = missing.length ? click(missing[0].label) : click('Buy Now');
  else if (state.startsWith('product page')) intended = click('< Prev');
  else return { kind: 'prose', text: 'The purchase is done.' };

  if (onTarget && missing.length && u('subgoal') < rates.subgoal) intended = click('Buy Now');
  else if (!state.startsWith('search page') && u('loop') < rates.loop) intended = click(onTarget ? '< Prev' : 'Back to Search');
  else if (u('invalid') < rates.invalid) {
    // A plausible wrong click: another value of the option being chosen, else a label not on the page.
    const sibling = onTarget && missing.length ? missing[0].otherLabel : null;
    intended = sibling ? click(sibling) : click(`${goal.productName} deluxe`);
  }
  if (u('format') < rates.format) return { kind: 'prose', text: u('format-kind') < 0.6 ? `I will ${intended.name} ${JSON.stringify(intended.args)}` : `${intended.name}[${Object.values(intended.args)[0]}]` };
  return { kind: 'call', call: intended };
}
