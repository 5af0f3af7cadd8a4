import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EPISODE_MEMORY_NAMESPACE, RolloutMemory, storedLessons } from '../../aegis/episode-memory';
import { finishedFromHeartbeat, rolloutTasks, runOneEpisode } from '../../aegis/rollout';
import { runRollout } from '../../activities/rollouts';
import { createActivityServices } from '../../activities/services';
import { getBenchmark } from '../../benchmarks/registry';
import { HarnessConfig, harnessId, parseHarnessConfig } from '../../harness/config';
import type { Model } from '../../harness/processor';
import type { EpisodeTrace } from '../../harness/trace';
import type { ModelRequest, ModelResponse } from '../../harness/types';
import { EndpointLimiters, sharedEndpointLimiters } from '../../models/endpoint-limiter';
import { ArtifactStore } from '../../store/artifact-store';
import { loadSuitesConfig, SuiteConfigError } from '../../suites/load-config';

/**
 * The services processors that call models or keep state get in real rollouts (aegis/rollout.ts): the
 * harness's judge and evaluator roles through the endpoint limiter and into the spend, episodic memory in
 * the artifact store, and a suite's declared skill files.
 */
jest.setTimeout(60_000);

const dirs: string[] = [];
const tmp = () => {
  const dir = mkdtempSync(join(tmpdir(), 'hx-services-'));
  dirs.push(dir);
  return dir;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function harness(extra: Partial<HarnessConfig['hooks']>, model: HarnessConfig['model'] = { main: { model: 'sim:small' } }): HarnessConfig {
  return parseHarnessConfig({
    name: 'services',
    model,
    hooks: {
      task_start: [{ id: 'system_prompt', type: 'system_prompt', params: {} }, ...(extra.task_start ?? [])],
      step_start: [{ id: 'step_budget', type: 'step_budget', params: { maxSteps: 8 } }],
      ...(extra.task_end ? { task_end: extra.task_end } : {}),
    },
  });
}

const memoryHarness = () =>
  harness({ task_start: [{ id: 'memory_read', type: 'episodic_memory', params: { maxLessons: 5 } }], task_end: [{ id: 'memory_write', type: 'episodic_memory', params: {} }] });

const bench = getBenchmark('blocksworld');
const trainIds = bench.tasks().filter((t) => t.split === 'train').map((t) => t.id);

/** A judge standing in for a paid endpoint: a fixed verdict, a known token count, counted calls. */
class CountingJudge implements Model {
  readonly id = 'scripted-judge';
  calls = 0;
  async generate(_request: ModelRequest): Promise<ModelResponse> {
    this.calls++;
    return { text: 'SCORE: 7\nmoved the right blocks', toolCalls: [], usage: { inputTokens: 1000, outputTokens: 10 }, stopReason: 'end_turn', model: this.id };
  }
}

describe('episodic memory in real rollouts', () => {
  test('a rollout stores its episodes\' lessons in the artifact store; a later rollout (a restarted store on the same folder) recalls them', async () => {
    const root = tmp();
    const config = memoryHarness();
    const id = await new ArtifactStore(root).putHarness(config);
    const first = await runRollout(createActivityServices({ store: new ArtifactStore(root) }), { benchmark: 'blocksworld', harnessId: id, taskIds: trainIds.slice(0, 2), k: 1, seed: 'mem' }, true);
    const store = new ArtifactStore(root);
    const lessons = await storedLessons(store, { harnessId: id, suite: 'blocksworld' });
    // One lesson per episode, in the rollout's order, each naming its outcome.
    expect(lessons).toHaveLength(2);
    expect(lessons.every((l) => /^(Succeeded|Failed)/.test(l))).toBe(true);
    // In the first rollout, the first episode recalled nothing (the store was empty), the second the first's lesson.
    const firstTraces = await store.get<Array<{ records: Array<{ kind: string; note?: string; data?: { lessons?: number } }> }>>(first.tracesRef!);
    expect(firstTraces.flatMap((t) => t.records).filter((r) => r.note === 'memory_recall').map((r) => r.data!.lessons)).toEqual([0, 1]);

    // A second rollout — another process, a fresh store object — recalls the lessons into its system prompt.
    const second = await rolloutTasks({ benchmark: bench, config, harnessId: id, taskIds: trainIds.slice(2, 3), k: 1, seed: 'mem', lessonStore: new ArtifactStore(root), limiters: null });
    expect(second.traces[0].systemPrompt).toContain('Lessons from earlier episodes of this kind of task:');
    expect(second.traces[0].systemPrompt).toContain(lessons[0]);
    expect(second.traces[0].records.find((r) => r.kind === 'note' && r.note === 'memory_recall')).toMatchObject({ data: { lessons: 2 } });
    expect(await storedLessons(store, { harnessId: id, suite: 'blocksworld' })).toHaveLength(3);
  });

  test('lessons are keyed by harness and suite: another harness or another suite recalls none', async () => {
    const root = tmp();
    const store = new ArtifactStore(root);
    await store.cacheSet(EPISODE_MEMORY_NAMESPACE, { harnessId: 'hx-a', suite: 'blocksworld' }, ['keep the tower clear']);
    expect(await storedLessons(store, { harnessId: 'hx-a', suite: 'blocksworld' })).toEqual(['keep the tower clear']);
    expect(await storedLessons(store, { harnessId: 'hx-b', suite: 'blocksworld' })).toEqual([]);
    expect(await storedLessons(store, { harnessId: 'hx-a', suite: 'gsm8k' })).toEqual([]);
  });

  test('deterministic: episode i recalls the stored lessons plus those of the rollout\'s episodes before it, and lessons are stored in sequential order', async () => {
    const store = new ArtifactStore(tmp());
    await store.cacheSet(EPISODE_MEMORY_NAMESPACE, { harnessId: 'hx-a', suite: 's' }, ['stored']);
    const memory = await RolloutMemory.open(store, { harnessId: 'hx-a', suite: 's' });
    await memory.forEpisode(2).remember(['third']);
    await memory.forEpisode(0).remember(['first']);
    expect(await memory.forEpisode(0).recall()).toEqual(['stored']);
    expect(await memory.forEpisode(1).recall()).toEqual(['stored', 'first']);
    await memory.forEpisode(1).remember(['second']);
    expect(await memory.forEpisode(3).recall()).toEqual(['stored', 'first', 'second', 'third']);
    await memory.forEpisode(3).remember(['past the cut']);
    expect(await memory.flush(3)).toBe(3);
    expect(await storedLessons(store, { harnessId: 'hx-a', suite: 's' })).toEqual(['stored', 'first', 'second', 'third']);
  });

  test('a rollout with memory runs one episode at a time whatever concurrency it is given, and its second attempt recalls the first', async () => {
    const config = memoryHarness();
    let inFlight = 0;
    let peak = 0;
    const substituteModel = (m: Model): Model => ({
      id: 'scripted:slow',
      generate: async (request) => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        await new Promise((r) => setTimeout(r, 2));
        inFlight--;
        return m.generate(request);
      },
    });
    const result = await rolloutTasks({ benchmark: bench, config, harnessId: harnessId(config), taskIds: trainIds.slice(0, 2), k: 2, seed: 'seq', lessonStore: new ArtifactStore(tmp()), limiters: null, concurrency: 4, substituteModel });
    expect(peak).toBe(1);
    const recalled = result.traces.map((t) => (t.records.find((r) => r.kind === 'note' && r.note === 'memory_recall') as { data: { lessons: number } }).data.lessons);
    expect(recalled).toEqual([0, 1, 2, 3]);
  });

  test('a resumed rollout (a retried activity) keeps the lessons of the episodes it does not run again', async () => {
    const config = memoryHarness();
    const ids = trainIds.slice(0, 2);
    const progress: unknown[] = [];
    // Traces saved by ref, as the activity does for paid models, so a resumed episode is reused, not run again.
    const saved = new Map<string, EpisodeTrace>();
    const traceStore = { saveTrace: (t: EpisodeTrace) => (saved.set(`t${saved.size}`, t), `t${saved.size - 1}`), loadTrace: (ref: string) => saved.get(ref)! };
    const whole = await rolloutTasks({ benchmark: bench, config, harnessId: harnessId(config), taskIds: ids, k: 1, seed: 'res', lessonStore: new ArtifactStore(tmp()), limiters: null, ...traceStore, onProgress: (p) => void progress.push(JSON.parse(JSON.stringify(p))) });
    const afterFirst = finishedFromHeartbeat(progress[0]);
    expect(afterFirst).toHaveLength(1);
    expect(afterFirst[0].lessons).toHaveLength(1);
    const store = new ArtifactStore(tmp());
    const savedBefore = saved.size;
    const resumed = await rolloutTasks({ benchmark: bench, config, harnessId: harnessId(config), taskIds: ids, k: 1, seed: 'res', lessonStore: store, limiters: null, ...traceStore, resume: afterFirst });
    expect(resumed.traces).toHaveLength(2);
    expect(saved.size - savedBefore).toBe(1); // only the second episode ran
    // The second episode, run again, recalls the first one's lesson although the first did not run again.
    expect(resumed.traces[1].systemPrompt).toBe(whole.traces[1].systemPrompt);
    expect(resumed.traces[1].systemPrompt).toContain('Failed');
    expect(await storedLessons(store, { harnessId: harnessId(config), suite: 'blocksworld' })).toHaveLength(2);
  });

  test('a harness without episodic_memory never touches the lesson store', async () => {
    const touched: string[] = [];
    const spy = { cacheGet: async (ns: string) => (touched.push(ns), undefined), cacheSet: async (ns: string) => void touched.push(ns) };
    const config = harness({});
    await rolloutTasks({ benchmark: bench, config, harnessId: harnessId(config), taskIds: trainIds.slice(0, 1), k: 1, seed: 'x', lessonStore: spy, limiters: null });
    expect(touched).toEqual([]);
  });
});

describe('model roles processors call', () => {
  test('an llm_judge call goes to the harness judge role through the endpoint limiter and is counted in the rollout\'s spend', async () => {
    const judged = harness({ task_end: [{ id: 'judge', type: 'llm_judge', params: {} }] }, { main: { model: 'sim:small' }, judge: { model: 'sim:large' } });
    const plain = harness({}, { main: { model: 'sim:small' }, judge: { model: 'sim:large' } });
    const judge = new CountingJudge();
    const substituteModel = (m: Model) => (m.id === 'sim:large' ? judge : m);
    const limiters = new EndpointLimiters({ cpus: 2 });
    const taskIds = trainIds.slice(0, 3);
    const withJudge = await rolloutTasks({ benchmark: bench, config: judged, harnessId: harnessId(judged), taskIds, k: 1, seed: 'j', substituteModel, limiters });
    const without = await rolloutTasks({ benchmark: bench, config: plain, harnessId: harnessId(plain), taskIds, k: 1, seed: 'j', substituteModel, limiters });
    expect(judge.calls).toBe(3);
    // Each judge call's 1,000 + 10 tokens are in the rollout's usage, on top of the same episodes without it.
    expect(withJudge.usage.inputTokens - without.usage.inputTokens).toBe(3000);
    expect(withJudge.usage.outputTokens - without.usage.outputTokens).toBe(30);
    // Through the judge endpoint's limiter (the simulator's in-process calls skip it).
    expect(limiters.inForce().find((l) => l.key === 'scripted-judge')?.stats.calls).toBe(3);
    // The judge's verdict is in the trace, and its call is traced like the main model's.
    const notes = withJudge.traces.map((t) => t.records.find((r) => r.kind === 'note' && r.note === 'llm_judge'));
    expect(notes.every((n) => (n as { data: { score: number } } | undefined)?.data.score === 7)).toBe(true);
    expect(withJudge.traces[0].records.filter((r) => r.kind === 'model_call' && r.model === 'scripted-judge')).toHaveLength(1);
  });

  test('through the rollout activity: the judge\'s tokens are part of the spend it reports', async () => {
    const root = tmp();
    const judge = new CountingJudge();
    const store = new ArtifactStore(root);
    const judged = harness({ task_end: [{ id: 'judge', type: 'llm_judge', params: {} }] }, { main: { model: 'sim:small' }, judge: { model: 'sim:large' } });
    const plain = harness({}, { main: { model: 'sim:small' }, judge: { model: 'sim:large' } });
    const services = createActivityServices({ store, substituteRolloutModel: (m) => (m.id === 'sim:large' ? judge : m) });
    const input = (id: string) => ({ benchmark: 'blocksworld', harnessId: id, taskIds: trainIds.slice(0, 2), k: 1, seed: 'spend' });
    const a = await runRollout(services, input(await store.putHarness(judged)));
    const b = await runRollout(services, input(await store.putHarness(plain)));
    expect(judge.calls).toBe(2);
    expect(a.spend.tokens - b.spend.tokens).toBe(2 * 1010);
    expect(sharedEndpointLimiters().inForce().find((l) => l.key === 'scripted-judge')?.stats.calls).toBeGreaterThanOrEqual(2);
  });
});

describe('skill files a suite declares', () => {
  const suiteDir = (skills: Record<string, string>, files: Record<string, string>) => {
    const dir = tmp();
    writeFileSync(join(dir, 'tasks.jsonl'), JSON.stringify({ id: 'a', instruction: 'Say hello.' }) + '\n');
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    writeFileSync(join(dir, 'harnessx.config.json'), JSON.stringify({ suites: { greet: { tasks: './tasks.jsonl', verifier: { command: 'node', args: ['-e', 'console.log(JSON.stringify({score:1}))'] }, skills } } }));
    return join(dir, 'harnessx.config.json');
  };

  test('are read at load and reach skill_loader in an episode\'s system prompt', async () => {
    // A declared file that does not exist, or is empty, fails at load, naming the field and the path.
    await expect(loadSuitesConfig(suiteDir({ greeting: 'greeting.md' }, {}))).rejects.toThrow(/suites\.greet\.skills\.greeting: cannot read .*greeting\.md \(ENOENT\)/);
    await expect(loadSuitesConfig(suiteDir({ greeting: 'greeting.md' }, { 'greeting.md': '   ' }))).rejects.toBeInstanceOf(SuiteConfigError);

    const [loaded] = await loadSuitesConfig(suiteDir({ greeting: 'greeting.md', refunds: 'refunds.md' }, { 'greeting.md': 'Always greet by name.', 'refunds.md': 'Check the order first.' }));
    expect(loaded.skills()).toEqual({ greeting: 'Always greet by name.', refunds: 'Check the order first.' });
    const seen: string[] = [];
    const model: Model = {
      id: 'scripted:skills',
      generate: async (request) => {
        seen.push(request.messages[0].content);
        return { text: 'hello', toolCalls: [], usage: { inputTokens: 1, outputTokens: 1 }, stopReason: 'end_turn', model: 'scripted:skills' };
      },
    };
    const config = harness({ task_start: [{ id: 'skills', type: 'skill_loader', params: { skills: ['greeting'] } }] });
    const trace = await runOneEpisode({ benchmark: loaded, config, harnessId: harnessId(config), seed: 's', wrapModel: () => model, limiters: null }, 'a', 0);
    expect(trace.systemPrompt).toContain('## Skill: greeting\nAlways greet by name.');
    expect(trace.systemPrompt).not.toContain('Check the order first.');
    expect(seen[0]).toContain('Always greet by name.');
  });
});
