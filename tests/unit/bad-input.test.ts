import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { evolveInputSchema } from '../../aegis/run-input';
import { seededRandom } from '../../aegis/sampling';
import { BlocksworldBenchmark, DATA_DIR } from '../../benchmarks/blocksworld';
import { HarnessConfigError, parseHarnessConfig } from '../../harness/config';
import { seedHarness } from '../../harness/seed';

/** Seeded structural fuzzing: mutate valid values into near-misses and garbage. */
function mutate(value: unknown, random: () => number, depth = 0): unknown {
  const r = random();
  const garbage = [null, -1, 1e309, 'x', '', true, [], {}, { hook: 'before_model' }, '__proto__', NaN];
  if (depth > 4 || r < 0.15) return garbage[Math.floor(random() * garbage.length)];
  if (Array.isArray(value)) {
    const out = value.map((v) => (random() < 0.3 ? mutate(v, random, depth + 1) : v));
    if (random() < 0.2) out.push(mutate(value[0] ?? {}, random, depth + 1));
    return out;
  }
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = { ...(value as Record<string, unknown>) };
    for (const key of Object.keys(out)) {
      const p = random();
      if (p < 0.15) delete out[key];
      else if (p < 0.5) out[key] = mutate(out[key], random, depth + 1);
    }
    if (random() < 0.15) out[`extra${Math.floor(random() * 10)}`] = 1;
    return out;
  }
  return garbage[Math.floor(random() * garbage.length)];
}

describe('bad input never crashes, and errors say which field', () => {
  it('harness configs: 500 mutations parse or fail with a HarnessConfigError listing fields', () => {
    const random = seededRandom('fuzz-harness');
    const seed = JSON.parse(JSON.stringify(seedHarness()));
    seed.hooks.before_model = [{ id: 'adm', type: 'admissible_actions', params: { maxListed: 5 } }];
    let rejected = 0;
    for (let i = 0; i < 500; i++) {
      const input = mutate(seed, random);
      try {
        parseHarnessConfig(input);
      } catch (e) {
        expect(e).toBeInstanceOf(HarnessConfigError);
        expect((e as HarnessConfigError).issues.length).toBeGreaterThan(0);
        for (const issue of (e as HarnessConfigError).issues) expect(issue).toMatch(/^[\w.()[\]-]+(\.[\w-]+)*: .+/);
        rejected++;
      }
    }
    expect(rejected).toBeGreaterThan(200);
  });

  it('workflow inputs: 500 mutations validate without throwing, every problem with a path', () => {
    const random = seededRandom('fuzz-input');
    const valid = { benchmark: 'blocksworld', model: 'sim:small', rounds: 3, seed: 's', k: 2, approval: 'auto', seedHarness: seedHarness() };
    for (let i = 0; i < 500; i++) {
      const result = evolveInputSchema().safeParse(mutate(valid, random));
      if (!result.success) for (const issue of result.error.issues) expect(typeof issue.message).toBe('string');
    }
    expect(evolveInputSchema().safeParse(valid).success).toBe(true);
  });

  describe('benchmark files', () => {
    const copy = () => {
      const dir = mkdtempSync(join(tmpdir(), 'hx-bench-'));
      cpSync(DATA_DIR, dir, { recursive: true });
      return dir;
    };
    it.each([
      ['domain.pddl', '(define (domain x) (:action pick-up', /domain\.pddl: PDDL: (missing|unexpected end)/],
      ['domain.pddl', '(define (domain x))', /domain\.pddl: no action "pick-up"/],
      ['plans.json', '{"instances": 3}', /plans\.json: expected \{"instances"/],
      ['plans.json', '{not json', /plans\.json: .*JSON/],
      ['plans.json', '{"instances": [{"instance_id": "two"}]}', /plans\.json: instances\[0\]: needs a numeric instance_id/],
      ['instances/instance-2.pddl', '(define (problem p) (:objects zz) (:init) (:goal (and (on zz zz))))', /instance-2\.pddl: objects zz have no colour/],
    ])('a broken %s fails naming the file and the problem', (file, content, message) => {
      const dir = copy();
      writeFileSync(join(dir, file), content);
      expect(() => new BlocksworldBenchmark({ dataDir: dir })).toThrow(message);
    });
    it('a gold plan naming an unknown block is reported with its task', () => {
      const dir = copy();
      writeFileSync(join(dir, 'plans.json'), JSON.stringify({ instances: [{ instance_id: 2, ground_truth_plan: '(pick-up chartreuse)\n' }] }));
      expect(() => new BlocksworldBenchmark({ dataDir: dir })).toThrow(/blocksworld\/instance-2: gold plan names unknown block colour "chartreuse"/);
    });
  });
});
