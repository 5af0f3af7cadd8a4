import { getBenchmark } from '../../../benchmarks/registry';
import type { WebShopBenchmark } from '../../../benchmarks/webshop';
import { optionLabel, parseSelection } from '../../../benchmarks/webshop/store';
import type { ModelRequest, ToolCall } from '../../../harness/types';
import type { ContextSignals, SimProfile } from '../profile';
import type { SkillDecision } from './types';

/**
 * The simulator's WebShop skill: it knows which product and options the instruction asks for (it reads the
 * goal the way a model would, here by lookup) and navigates the text pages: search, open the product,
 * select each requested option, buy. It errs at its profile's harness-dependent rates: clicking something
 * that is not on the page ("invalid"; listing the page's actions makes this rare), going back to a page it
 * already saw ("loop"), buying before every option is selected ("subgoal"), prose instead of a call ("format").
 */
export function matches(request: ModelRequest): boolean {
  return request.tools.some((t) => t.name === 'click') && request.tools.some((t) => t.name === 'search');
}

export function decideWebShop(request: ModelRequest, signals: ContextSignals, rates: SimProfile, u: (kind: string) => number): SkillDecision {
  const bench = getBenchmark('webshop') as WebShopBenchmark;
  const first = request.messages.find((m) => m.role === 'user')?.content ?? '';
  const taskId = bench.taskForText(first);
  if (!taskId) return { kind: 'lost', text: 'I do not know what to buy.' };
  const goal = bench.goal(taskId);
  const product = bench.shop.product(goal.productId)!;
  const latest = [...request.messages].reverse().find((m) => (m.role === 'tool' || m.role === 'user') && /Current state:/.test(m.content))?.content ?? first;
  const state = latest.slice(latest.lastIndexOf('Current state:') + 'Current state:'.length).trim();
  const labels = [...latest.matchAll(/\[([^\]]+)\]/g)].map((m) => m[1].replace(/ \(selected\)$/, ''));
  const click = (element: string): Omit<ToolCall, 'id'> => ({ name: 'click', args: { element } });
  const wanted = Object.entries(goal.options).map(([k, v]) => ({ k, v, label: optionLabel(product, k, v) }));

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
    const sibling = onTarget && missing.length ? Object.values(product.variants).map((v) => v.options[missing[0].k]).find((v) => v !== missing[0].v) : undefined;
    intended = sibling ? click(optionLabel(product, missing[0].k, sibling)) : click(`${goal.productName} deluxe`);
  }
  if (u('format') < rates.format) return { kind: 'prose', text: u('format-kind') < 0.6 ? `I will ${intended.name} ${JSON.stringify(intended.args)}` : `${intended.name}[${Object.values(intended.args)[0]}]` };
  return { kind: 'call', call: intended };
}
