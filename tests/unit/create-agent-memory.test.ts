import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EPISODE_MEMORY_NAMESPACE, LessonBacking, RolloutMemory, storedLessons } from '../../aegis/episode-memory';
import { applyEdits, type Edit } from '../../harness/builder';
import { harnessId, type HarnessConfig } from '../../harness/config';
import type { Model } from '../../harness/processor';
import { seedHarness } from '../../harness/seed';
import type { ModelRequest, ModelResponse } from '../../harness/types';
import { createAgent } from '../../library/create-agent';
import { ArtifactStore } from '../../store/artifact-store';

/** A model that answers at once and keeps each request's system prompt (where episodic_memory puts recalled lessons). */
class AnsweringModel implements Model {
  readonly id = 'scripted:memory';
  readonly systems: string[] = [];
  async generate(request: ModelRequest): Promise<ModelResponse> {
    this.systems.push(request.messages.filter((m) => m.role === 'system').map((m) => String(m.content)).join('\n'));
    return { text: 'done', toolCalls: [], usage: { inputTokens: 1, outputTokens: 1 }, stopReason: 'end_turn', model: this.id };
  }
}

const insert = (hook: string, id: string, type = 'episodic_memory'): Edit => ({ op: 'insert', hook, processor: { id, type, params: {} } }) as Edit;
function withMemory(): HarnessConfig {
  const built = applyEdits(seedHarness(), [insert('task_start', 'memory_read'), insert('task_end', 'memory_write')]);
  if (!built.ok) throw new Error(built.error.message);
  return built.config;
}
const LESSON_HEADER = 'Lessons from earlier episodes';
const TASK = 'Archive the launch notes about the rocket engine';

/** A store double that counts what it is asked (and holds the lessons in a map, as the artifact store's cache does). */
function countingStore(): LessonBacking & { gets: number; sets: number; data: Map<string, unknown> } {
  const data = new Map<string, unknown>();
  return {
    gets: 0,
    sets: 0,
    data,
    async cacheGet<T>(namespace: string, key: unknown) {
      this.gets++;
      return data.get(`${namespace}|${JSON.stringify(key)}`) as T | undefined;
    },
    async cacheSet(namespace: string, key: unknown, value: unknown) {
      this.sets++;
      data.set(`${namespace}|${JSON.stringify(key)}`, value);
    },
  };
}

describe('createAgent: episodic memory across the product\'s runs', () => {
  const envBefore = { ...process.env };
  afterEach(() => {
    process.env = { ...envBefore };
  });

  test('the second run recalls the lesson the first stored (a store passed in), keyed by harness and suite', async () => {
    const store = new ArtifactStore(mkdtempSync(join(tmpdir(), 'hx-agent-memory-')));
    const harness = withMemory();
    const model = new AnsweringModel();
    const agent = createAgent({ harness, model, memory: store, name: 'notes-app' });
    await agent.run(TASK);
    expect(model.systems[0]).not.toContain(LESSON_HEADER);
    const stored = await storedLessons(store, { harnessId: harnessId(harness), suite: 'notes-app' });
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatch(/^Succeeded in 1 steps on: .*rocket engine/);
    await agent.run(TASK);
    expect(model.systems[1]).toContain(LESSON_HEADER);
    expect(model.systems[1]).toContain(stored[0]);
    expect(await storedLessons(store, { harnessId: harnessId(harness), suite: 'notes-app' })).toHaveLength(2);
    // Another suite name does not see this product's lessons.
    const other = new AnsweringModel();
    await createAgent({ harness, model: other, memory: store, name: 'another-app' }).run(TASK);
    expect(other.systems[0]).not.toContain(LESSON_HEADER);
  });

  test('a product named like the suite recalls what a rollout of the same harness stored during evolution', async () => {
    const store = new ArtifactStore(mkdtempSync(join(tmpdir(), 'hx-agent-evolved-')));
    const harness = withMemory();
    // What aegis/rollout.ts does for (harness, suite) when a rollout ends.
    const rollout = await RolloutMemory.open(store, { harnessId: harnessId(harness), suite: 'tau2-retail' });
    await rollout.forEpisode(0).remember(['Check the order status before offering a refund.']);
    await rollout.flush();
    const model = new AnsweringModel();
    await createAgent({ harness, model, memory: store, name: 'tau2-retail' }).run('Refund my order please');
    expect(model.systems[0]).toContain('Check the order status before offering a refund.');
  });

  test('by default the lessons live in the project\'s artifact store (HARNESSX_DATA_DIR), so they outlive the agent', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hx-agent-data-'));
    delete process.env.HARNESSX_STORE;
    process.env.HARNESSX_DATA_DIR = dir;
    const harness = withMemory();
    const first = new AnsweringModel();
    await createAgent({ harness, model: first }).run(TASK);
    // A new agent (the product restarted) reads the same store.
    const second = new AnsweringModel();
    await createAgent({ harness, model: second }).run(TASK);
    expect(second.systems[0]).toContain(LESSON_HEADER);
    expect(await storedLessons(new ArtifactStore(dir), { harnessId: harnessId(harness), suite: 'agent' })).toHaveLength(2);
  });

  test('memory: false turns it off: nothing is stored, nothing recalled', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hx-agent-off-'));
    delete process.env.HARNESSX_STORE;
    process.env.HARNESSX_DATA_DIR = dir;
    const harness = withMemory();
    const model = new AnsweringModel();
    const agent = createAgent({ harness, model, memory: false });
    await agent.run(TASK);
    await agent.run(TASK);
    expect(model.systems[1]).not.toContain(LESSON_HEADER);
    expect(await storedLessons(new ArtifactStore(dir), { harnessId: harnessId(harness), suite: 'agent' })).toEqual([]);
  });

  test('a harness without episodic_memory never opens the store; runs ending together keep every lesson', async () => {
    // A broken store setting would throw the moment the store opened: a harness without memory runs regardless.
    process.env.HARNESSX_STORE = 's3:not-a-location';
    await expect(createAgent({ harness: seedHarness(), model: new AnsweringModel() }).run(TASK)).resolves.toMatchObject({ answer: 'done' });
    await expect(createAgent({ harness: withMemory(), model: new AnsweringModel() }).run(TASK)).rejects.toThrow(/HARNESSX_STORE=.*not an S3 location/);

    const store = countingStore();
    const agent = createAgent({ harness: withMemory(), model: new AnsweringModel(), memory: store });
    await Promise.all([1, 2, 3, 4].map((i) => agent.run({ id: `t${i}`, instruction: `${TASK} ${i}` })));
    const lessons = [...store.data.entries()].filter(([k]) => k.startsWith(`${EPISODE_MEMORY_NAMESPACE}|`)).flatMap(([, v]) => v as string[]);
    expect(lessons).toHaveLength(4);
  });
});
