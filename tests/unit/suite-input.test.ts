import { evolveInputSchema } from '../../aegis/run-input';
import { coevolveInputSchema } from '../../coevolution/coevolve-input';

describe('workflow input names any suite by a well-formed name', () => {
  it('accepts built-in benchmarks and user suite names; the worker, not the workflow, decides whether it knows them', () => {
    expect(evolveInputSchema().parse({ benchmark: 'notes' }).benchmark).toBe('notes');
    expect(coevolveInputSchema().parse({ benchmark: 'support.v2' }).benchmark).toBe('support.v2');
    expect(evolveInputSchema().parse({ benchmark: 'tau2-retail' }).benchmark).toBe('tau2-retail');
  });

  it.each(['Blocks World', '-x', '', 'a'.repeat(65), '../etc'])('refuses %j with the expected shape and the built-in examples', (name) => {
    const r = evolveInputSchema().safeParse({ benchmark: name });
    expect(r.success).toBe(false);
    expect(r.error!.issues[0]).toMatchObject({ path: ['benchmark'], message: 'benchmark must be a suite name (lower-case letters, digits, ".", "_", "-"), e.g. one of: blocksworld, gsm8k, humaneval, tau2-retail, webshop' });
    expect(coevolveInputSchema().safeParse({ benchmark: name }).success).toBe(false);
  });
});
