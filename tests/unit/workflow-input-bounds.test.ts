import { deploymentInputSchema } from '../../aegis/live/deployment-input';
import { feedbackProblem, reportProblem } from '../../aegis/live/deployment-state';
import { evolveInputSchema, inputProblems } from '../../aegis/run-input';
import { decisionProblem } from '../../aegis/run-state';
import { coevolveInputSchema } from '../../coevolution/coevolve-input';
import { seedHarness } from '../../harness/seed';
import { evaluateInputSchema } from '../../workflows/evaluate-harness';

/**
 * Issue 28: every free-form field of a workflow input (and of the updates an operator or product sends) is
 * bounded, so nothing typed into a start form can grow a history past Temporal's limits; the error names
 * the field. A 1.99 MB seed harness used to be accepted (bound 2,000,000 characters) and failed the run.
 */
type Schema = { safeParse(v: unknown): { success: true } | { success: false; error: Parameters<typeof inputProblems>[0] } };
function problems(schema: Schema, value: unknown): string[] {
  const parsed = schema.safeParse(value);
  return parsed.success ? [] : inputProblems(parsed.error);
}

/** A harness config padded (an extra field: the bound is checked before the config's own schema) to `chars` characters in all. */
function harnessOf(chars: number): Record<string, unknown> {
  const base = JSON.parse(JSON.stringify(seedHarness())) as Record<string, unknown>;
  const size = JSON.stringify(base).length;
  return { ...base, padding: 'p'.repeat(Math.max(0, chars - size)) };
}

const schemas: Array<[string, Schema, Record<string, unknown>]> = [
  ['evolveHarness', evolveInputSchema() as unknown as Schema, { benchmark: 'blocksworld' }],
  ['deployHarness', deploymentInputSchema() as unknown as Schema, { name: 'd1', benchmark: 'blocksworld' }],
  ['coevolve', coevolveInputSchema() as unknown as Schema, { benchmark: 'blocksworld' }],
  ['evaluateHarness', evaluateInputSchema() as unknown as Schema, { benchmark: 'blocksworld', harnessId: 'hx-0123456789abcdef', taskIds: ['blocksworld/t1'] }],
];

describe.each(schemas)('%s input', (_name, schema, valid) => {
  test('the valid input passes (so the refusals below are about the field, not the rest)', () => {
    expect(problems(schema, valid)).toEqual([]);
  });
  test('a 1.99 MB seed is refused naming the field; a short one passes', () => {
    expect(problems(schema, { ...valid, seed: 'x'.repeat(1_990_000) })).toEqual(['seed: seed is longer than 200 characters']);
    expect(problems(schema, { ...valid, seed: 'x'.repeat(200) })).toEqual([]);
  });
});

describe('model and metaAgent strings', () => {
  test.each(schemas.filter(([n]) => n !== 'evaluateHarness'))('%s: 10,000 characters are refused naming the field', (_name, schema, valid) => {
    expect(problems(schema, { ...valid, model: `sim:${'m'.repeat(10_000)}` })).toEqual(['model: model is longer than 500 characters']);
    expect(problems(schema, { ...valid, metaAgent: `anthropic:${'m'.repeat(10_000)}` })).toEqual(['metaAgent: metaAgent is longer than 500 characters']);
  });
  test('evaluateHarness: a benchmark name of 10,000 characters is refused naming the field', () => {
    expect(problems(evaluateInputSchema() as unknown as Schema, { benchmark: 'b'.repeat(10_000), harnessId: 'hx-0123456789abcdef', taskIds: ['blocksworld/t1'] })[0]).toMatch(/^benchmark: benchmark must be a suite name/);
  });
});

describe('seedHarness', () => {
  test.each(schemas.filter(([n]) => n === 'evolveHarness' || n === 'deployHarness'))('%s: 1.99 MB is refused naming the field; 200 KB passes', (_name, schema, valid) => {
    expect(problems(schema, { ...valid, seedHarness: harnessOf(1_990_000) })).toEqual(['seedHarness: seedHarness is larger than 262144 characters']);
    expect(problems(schema, { ...valid, seedHarness: harnessOf(200_000) })).toEqual([]);
    // Many small values instead of one long string: refused by count.
    const many = { ...harnessOf(0), padding: Object.fromEntries(Array.from({ length: 25_000 }, (_, i) => [`k${i}`, ''])) };
    expect(problems(schema, { ...valid, seedHarness: many })).toEqual(['seedHarness: seedHarness has more than 20000 values']);
  });
  test('coevolve: a resume of 25 MB is refused naming the field', () => {
    expect(problems(coevolveInputSchema() as unknown as Schema, { benchmark: 'blocksworld', resume: { x: 'r'.repeat(25_000_000) } })).toEqual(['resume: resume is larger than 20000000 characters']);
  });
});

describe('updates: operator reasons and product reports are bounded, naming the field', () => {
  const pending = { candidateId: 'r1-c1' } as Parameters<typeof decisionProblem>[0];
  test('decide reason', () => {
    expect(decisionProblem(pending, { candidateId: 'r1-c1', approve: true, reason: 'fine' } as never)).toBeNull();
    expect(decisionProblem(pending, { candidateId: 'r1-c1', approve: true, reason: 'r'.repeat(1_990_000) } as never)).toBe('reason is longer than 2000 characters (1990000)');
  });
  test('feedback and report ids', () => {
    expect(feedbackProblem({ runId: 'run-1', score: 1, note: 'good' })).toBeNull();
    expect(feedbackProblem({ runId: 'run-1', score: 1, note: 'n'.repeat(5000) })).toBe('feedback.note is longer than 2000 characters (5000)');
    expect(feedbackProblem({ runId: 'r'.repeat(300), score: 1 })).toBe('feedback.runId is longer than 256 characters (300)');
    const report = { runId: 'run-1', runKey: 'k', harnessId: 'hx-0123456789abcdef', taskId: 't', steps: 1 };
    expect(reportProblem(report, 0)).toBeNull();
    expect(reportProblem({ ...report, taskId: 't'.repeat(10_000) }, 3)).toBe('reports[3].taskId is longer than 256 characters (10000)');
  });
});
