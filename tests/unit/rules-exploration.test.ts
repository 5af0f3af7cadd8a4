import { validSingleEdits } from '../../aegis/edit-space';
import { checkManifest } from '../../aegis/gate';
import type { TriedEdit } from '../../aegis/meta-agent';
import { remediesFor } from '../../aegis/remedies';
import { buildLandscape, draftCandidates, EXPLORATION_SIGNATURE, rankCandidates, RuleBasedMetaAgent } from '../../aegis/rule-based-agent';
import type { Candidate, Digest, FailureCategory } from '../../aegis/types';
import { harnessId } from '../../harness/config';
import { seedHarness } from '../../harness/seed';
import { categoryDigest } from '../helpers/category-digest';

const seed = seedHarness();
const seedId = harnessId(seed);

/** A digest of failing tasks, each with one category (plus one passing task). */
const digestOf = (round: number, failing: Array<[string, FailureCategory]>): Digest => categoryDigest(seedId, round, failing);
const digest = digestOf(3, [['f1', 'format_error'], ['f2', 'format_error'], ['l1', 'loop']]);

/** Every catalogue remedy for the digest's categories, tried (and rejected) on the seed harness. */
function catalogueTried(d: Digest): TriedEdit[] {
  const categories = [...new Set(d.tasks.flatMap((t) => Object.keys(t.categoryCounts) as FailureCategory[]))];
  return categories.flatMap((c) => remediesFor(c, seed)).map((r) => ({ key: r.key, bucket: r.bucket, harnessId: seedId, outcome: 'rejected: no gain' }));
}
const asCandidates = (drafts: ReturnType<typeof draftCandidates>): Candidate[] => drafts.map(({ config, ...c }) => ({ ...c, harnessId: harnessId(config) }));

describe('rules Planner: exploration when the catalogue is exhausted', () => {
  const tried = catalogueTried(digest);

  it('still yields candidates, with complete manifests aimed at failing tasks, that the Critic keeps', () => {
    const landscape = buildLandscape(digest, tried, seed, seedId, 'cmp-1');
    expect(landscape.options.length).toBeGreaterThan(0);
    // Without exploration every option would be a catalogue remedy, and they are all tried.
    expect(landscape.options.every((o) => o.exploration)).toBe(true);
    const drafts = draftCandidates(landscape, seed, 4, 3, digest);
    expect(drafts).toHaveLength(4);
    const candidates = asCandidates(drafts);
    const failing = new Set(['f1', 'f2', 'l1']);
    for (const c of candidates) {
      expect(checkManifest(c).passed).toBe(true);
      expect(c.manifest.predictedImpact.tasksWillUnlock.length).toBeGreaterThan(0);
      expect(c.manifest.predictedImpact.tasksWillUnlock.every((id) => failing.has(id))).toBe(true);
      expect(c.manifest.attributionSignature.startsWith(EXPLORATION_SIGNATURE)).toBe(true);
    }
    const critique = rankCandidates(candidates, digest, {});
    expect(critique).toEqual({ decision: 'ship_ranking', ranking: candidates.map((c) => c.candidateId), notes: [] });
  });

  it('never proposes a key tried on the incumbent, nor one twice, and runs out only when every valid edit is tried', () => {
    const landscape = buildLandscape(digest, tried, seed, seedId, 'cmp-1');
    const keys = landscape.options.map((o) => o.key);
    expect(new Set(keys).size).toBe(keys.length);
    for (const t of tried) expect(keys).not.toContain(t.key);
    // Trying the exploration options in turn exhausts them: the ledger grows, the options shrink to nothing.
    let ledger = [...tried];
    for (let round = 4; round < 40; round++) {
      const options = buildLandscape({ ...digest, round }, ledger, seed, seedId, 'cmp-1').options;
      if (!options.length) break;
      for (const o of options.slice(0, 4)) expect(ledger.map((t) => t.key)).not.toContain(o.key);
      ledger = [...ledger, ...options.slice(0, 4).map((o) => ({ key: o.key, bucket: o.bucket, harnessId: seedId, outcome: 'rejected: no gain' }))];
    }
    expect(buildLandscape(digest, ledger, seed, seedId, 'cmp-1').options).toEqual([]);
    expect(ledger.length).toBeGreaterThanOrEqual(validSingleEdits(seed).length);
  });

  it('is deterministic per seed and round: same seed, same candidates; the draw only breaks ties', () => {
    const keysFor = (runSeed: string, round: number) => buildLandscape({ ...digest, round }, tried, seed, seedId, runSeed).options.map((o) => o.key);
    expect(keysFor('cmp-1', 3)).toEqual(keysFor('cmp-1', 3));
    const seeds = ['cmp-1', 'cmp-2', 'cmp-3', 'a', 'b', 'c'];
    expect(new Set(seeds.map((s) => keysFor(s, 3).join(','))).size).toBeGreaterThan(1);
    // The same set of edits whatever the seed; only the order of equally promising ones moves.
    for (const s of seeds) expect([...keysFor(s, 3)].sort()).toEqual([...keysFor('cmp-1', 3)].sort());
  });

  it('puts components the failing categories implicate first, then additions, budget changes, removals', () => {
    // no_progress implicates step_budget; its catalogue remedy is one budget change, so the other budget
    // changes and the removal are implicated exploration options, aimed at the one no_progress task.
    const d = digestOf(4, [['f1', 'format_error'], ['f2', 'format_error'], ['n1', 'no_progress']]);
    const options = buildLandscape(d, catalogueTried(d), seed, seedId, 'cmp-2').options;
    const implicated = options.filter((o) => o.rationale.includes('implicated by'));
    expect(implicated.map((o) => o.key).sort()).toEqual(['configure:step_budget:{"maxSteps":20}', 'configure:step_budget:{"maxSteps":30}', 'configure:step_budget:{"maxSteps":45}', 'configure:step_budget:{"maxSteps":8}', 'remove:step_budget']);
    expect(options.slice(0, implicated.length)).toEqual(implicated);
    for (const o of implicated) expect(o.exploration!.aimedAt).toEqual(['n1']);
    expect(implicated[implicated.length - 1].key).toBe('remove:step_budget');
    // The rest claim every failing task, additions before removals.
    const rest = options.slice(implicated.length);
    for (const o of rest) expect(o.exploration!.aimedAt).toEqual(['f1', 'f2', 'n1']);
    const ops = rest.map((o) => o.edits[0].op);
    expect(ops.indexOf('remove')).toBeGreaterThan(ops.lastIndexOf('insert'));
  });

  it('implicated edits claim only the tasks that implicate them', () => {
    // sliding_window is implicated by long_context only: with one long_context task it is aimed at that task.
    const d = digestOf(2, [['f1', 'format_error'], ['c1', 'long_context']]);
    const options = buildLandscape(d, catalogueTried(d), seed, seedId, 'cmp-1').options;
    const sliding = options.find((o) => o.key === 'insert:sliding_window@step_start');
    expect(sliding?.exploration?.aimedAt).toEqual(['c1']);
    expect(options[0].key).toBe('insert:sliding_window@step_start');
  });

  it('ranks exploration after every catalogue remedy, keeping the Planner order among explorations', async () => {
    const agent = new RuleBasedMetaAgent('cmp-1');
    const fresh = await agent.plan({ digest, tried: [], config: seed });
    const catalogue = fresh.options.filter((o) => !o.exploration);
    expect(catalogue.length).toBeGreaterThan(0);
    // Catalogue options come first in the landscape; exploration fills the slots they leave.
    expect(fresh.options.slice(0, catalogue.length).every((o) => !o.exploration)).toBe(true);
    const drafts = await agent.evolve({ landscape: fresh, digest, config: seed, maxCandidates: catalogue.length + 2, round: 3 });
    const candidates = asCandidates(drafts);
    const critique = await agent.critique({ candidates, digest, reputation: {} });
    if (critique.decision !== 'ship_ranking') throw new Error('expected a ranking');
    const explorationIds = candidates.filter((c) => c.manifest.attributionSignature.startsWith(EXPLORATION_SIGNATURE)).map((c) => c.candidateId);
    expect(explorationIds).toHaveLength(2);
    expect(critique.ranking.slice(-2)).toEqual(explorationIds);
  });

  it('a digest with no failing task gives no exploration', () => {
    expect(buildLandscape(digestOf(1, []), [], seed, seedId, 'cmp-1').options).toEqual([]);
  });
});
