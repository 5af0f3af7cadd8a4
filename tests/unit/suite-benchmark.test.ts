import { resolve, join } from 'node:path';
import { runOneEpisode } from '../../aegis/rollout';
import { checkBenchmark } from '../../benchmarks/check-benchmark';
import { clearRegisteredBenchmarks, getBenchmark, knownBenchmarkNames, registerBenchmark } from '../../benchmarks/registry';
import { harnessId } from '../../harness/config';
import type { Model } from '../../harness/processor';
import { seedHarness } from '../../harness/seed';
import type { ModelResponse, ToolCall } from '../../harness/types';
import { loadSuitesConfig } from '../../suites/load-config';
import { mcpToolProvider } from '../../suites/mcp';
import { SuiteBenchmark } from '../../suites/suite-benchmark';
import type { McpToolsConfig, SuiteConfig, ToolProvider, ToolSession } from '../../suites/types';
import { createVerifier } from '../../suites/verifiers';
import { loadSuiteTasks } from '../../suites/load-tasks';
import { grpoRows } from '../../coevolution/export-grpo';

const FIXTURE = resolve(__dirname, '../fixtures/suites/notes');

/** A task model that plays the given replies in order and fails loudly if asked once more. */
function scripted(replies: Array<{ text?: string; call?: Omit<ToolCall, 'id'> }>): Model {
  let turn = 0;
  return {
    id: 'test:scripted',
    async generate(): Promise<ModelResponse> {
      const reply = replies[turn++];
      if (!reply) throw new Error(`scripted model: unexpected call ${turn}`);
      return { text: reply.text ?? '', toolCalls: reply.call ? [{ id: `c${turn}`, ...reply.call }] : [], usage: { inputTokens: 10, outputTokens: 5 }, stopReason: reply.call ? 'tool_use' : 'end_turn', model: 'test:scripted' };
    },
  };
}

const config = seedHarness('sim:small');
const episode = (benchmark: SuiteBenchmark, taskId: string, model: Model) =>
  runOneEpisode({ benchmark, config, harnessId: harnessId(config), seed: 'unit', wrapModel: () => model }, taskId, 0);

/** A provider whose sessions count how often they are closed. */
function countingProvider(specsNames: string[], closed: { count: number }, label = 'counting'): ToolProvider {
  return {
    label,
    async open(): Promise<ToolSession> {
      return {
        specs: specsNames.map((name) => ({ name, description: name, parameters: {} })),
        call: async (call) => ({ ok: true, output: `did ${call.name}` }),
        state: async () => ({ label }),
        close: async () => void closed.count++,
      };
    },
  };
}

async function suiteWith(config: Partial<SuiteConfig> & Pick<SuiteConfig, 'verifier'>, providers: ToolProvider[]): Promise<SuiteBenchmark> {
  const full: SuiteConfig = { tasks: join(FIXTURE, 'tasks.jsonl'), ...config };
  const tasks = await loadSuiteTasks(full, { configFile: join(FIXTURE, 'x.ts'), configDir: FIXTURE, suite: 't' });
  return new SuiteBenchmark({ name: 't', config: full, tasks, providers, verifier: createVerifier(full.verifier, { suite: 't', configDir: FIXTURE, timeoutMs: full.verifierTimeoutMs }) });
}

describe('a user suite as a Benchmark', () => {
  let notes: SuiteBenchmark;
  beforeAll(async () => {
    [notes] = await loadSuitesConfig(join(FIXTURE, 'harnessx.config.ts'));
  });

  it('runs an episode through runOneEpisode: tool calls act on the state, the final answer ends it, the verifier scores it', async () => {
    const trace = await episode(notes, 'notes-1', scripted([{ call: { name: 'add_note', args: { text: 'buy milk' } } }, { text: '1' }]));
    expect(trace).toMatchObject({ success: true, reward: 1, steps: 2, endReason: 'goal_reached', rewardBreakdown: { saved: true, counted: true, answered: true, score: 1, verifier: 'function' } });
    expect(trace.records).toContainEqual(expect.objectContaining({ kind: 'note', note: 'final answer', data: { answer: '1' } }));
    expect(trace.records).toContainEqual(expect.objectContaining({ kind: 'tool_call', call: expect.objectContaining({ name: 'add_note' }), result: { ok: true, output: 'saved note 1' } }));
  });

  it('exports as a GRPO dataset like a built-in benchmark: the suite\'s tools (with their JSON Schemas), the trajectory, the reward', async () => {
    const trace = await episode(notes, 'notes-1', scripted([{ call: { name: 'add_note', args: { text: 'buy milk' } } }, { text: '1' }]));
    const entry = { key: 'k1', taskId: 'notes-1', harnessId: trace.harnessId, checkpointId: 'c0', model: 'test:scripted', reward: trace.reward, iteration: 0, tracesRef: 'r', traceIndex: 0, behaviourLogProb: null };
    const [row] = await grpoRows([entry], () => trace, notes);
    expect(row).toMatchObject({ task_id: 'notes-1', reward: 1 });
    expect(row.tools.map((t) => t.function.name).sort()).toEqual(['add_note', 'list_notes']);
    expect(row.tools.find((t) => t.function.name === 'add_note')!.function.parameters).toMatchObject({ type: 'object', required: ['text'], properties: { text: { type: 'string', minLength: 1 } } });
    expect(JSON.stringify(row.completion)).toContain('buy milk');
  });

  it('scores 0 an episode that only claims success', async () => {
    const trace = await episode(notes, 'notes-1', scripted([{ text: '1' }]));
    expect(trace).toMatchObject({ success: false, reward: 0, rewardBreakdown: { saved: false, answered: true } });
  });

  it('check-benchmark: every reference accepted, every corruption (empty, last step dropped, last step with altered arguments) rejected', async () => {
    const r = await checkBenchmark(notes);
    expect(r).toMatchObject({ ok: true, tasks: 4, referenceAccepted: 4, corruptedRejected: 12, corrupted: 12, failures: [] });
    expect(Object.keys(r.byKind)).toEqual(['empty', 'last action dropped', 'last step arguments altered']);
    // A verifier that accepts anything fails the check.
    const lax = await suiteWith({ verifier: () => 1, tools: undefined }, []);
    expect((await checkBenchmark(lax)).ok).toBe(false);
  });

  it('closes the tool sessions after every episode, also when the episode throws', async () => {
    const closed = { count: 0 };
    const suite = await suiteWith({ verifier: () => 1 }, [countingProvider(['poke'], closed)]);
    await episode(suite, 'notes-1', scripted([{ call: { name: 'poke', args: {} } }, { text: 'done' }]));
    expect(closed.count).toBe(1);
    await expect(episode(suite, 'notes-1', scripted([]))).rejects.toThrow('scripted model: unexpected call 1');
    expect(closed.count).toBe(2);
  });

  it('a verifier that throws scores the episode 0 and its reason is in the trace; the rollout goes on', async () => {
    const suite = await suiteWith({ verifier: () => { throw new Error('verifier database unreachable'); } }, [countingProvider(['poke'], { count: 0 })]);
    const trace = await episode(suite, 'notes-1', scripted([{ text: 'done' }]));
    expect(trace).toMatchObject({ reward: 0, success: false, rewardBreakdown: { reason: 'verifier function failed: verifier database unreachable', score: 0 } });
  });

  it('gives the verifier every provider state keyed by label, and refuses the same tool name from two providers', async () => {
    let seen: unknown;
    const suite = await suiteWith({ verifier: (r) => ((seen = r.state), 1) }, [countingProvider(['a'], { count: 0 }, 'one'), countingProvider(['b'], { count: 0 }, 'two')]);
    await episode(suite, 'notes-1', scripted([{ text: 'x' }]));
    expect(seen).toEqual({ one: { label: 'one' }, two: { label: 'two' } });
    const closed = { count: 0 };
    const clash = await suiteWith({ verifier: () => 1 }, [countingProvider(['same'], closed, 'one'), countingProvider(['same'], closed, 'two')]);
    await expect(clash.createEnvironment('notes-1', { seed: 's' })).rejects.toThrow('suite "t": tool "same" is offered by both one and two; tool names must be unique');
    expect(closed.count).toBe(2);
  });

  it('a scripted user answers in order; the episode ends when the script has run out', async () => {
    let dialogue: unknown;
    const suite = await suiteWith({ user: { script: ['my order is 42', 'thanks'] }, verifier: (r) => ((dialogue = r.dialogue), r.answer === 'bye' ? 1 : 0) }, []);
    expect(suite.hasSimulatedUser).toBe(true);
    const trace = await episode(suite, 'notes-1', scripted([{ text: 'which order?' }, { text: 'refunded' }, { text: 'bye' }]));
    expect(dialogue).toEqual([
      { agent: 'which order?', user: 'my order is 42' },
      { agent: 'refunded', user: 'thanks' },
      { agent: 'bye', user: '(The user has nothing more to say; the conversation is over.)' },
    ]);
    expect(trace).toMatchObject({ reward: 1, steps: 3 });
  });

  it('a persona user without a model says so and ends the episode', async () => {
    const suite = await suiteWith({ user: { persona: 'an impatient customer' }, verifier: () => 0 }, []);
    const env = await suite.createEnvironment('notes-1', { seed: 's' });
    expect(await env.respond!('hello')).toContain('No model plays this suite');
    expect(env.isDone()).toBe(true);
    await env.close();
  });

  it('says its episodes start processes only for a stdio MCP server that keeps per-episode state (rollouts then keep fewer open)', async () => {
    const starts = async (tools: Array<McpToolsConfig> | undefined) =>
      (await suiteWith({ verifier: () => 1, tools }, (tools ?? []).map((t, index) => mcpToolProvider(t, { configFile: join(FIXTURE, 'x.ts'), suite: 't', index, configDir: FIXTURE })))).episodesStartProcesses;
    expect(await starts([{ mcp: { command: 'node', args: ['server.js'] } }])).toBe(true);
    expect(await starts([{ mcp: { command: 'node', args: ['server.js'] }, stateless: true }])).toBe(false);
    expect(await starts([{ mcp: { url: 'http://127.0.0.1:9/mcp' } }])).toBe(false);
    expect(await starts(undefined)).toBe(false);
    expect(notes.episodesStartProcesses).toBe(false); // the fixture's tools are functions
  });

  it('registers in the benchmark registry; a clash with a built-in name or another suite is refused', async () => {
    try {
      registerBenchmark(notes);
      expect(getBenchmark('notes')).toBe(notes);
      expect(knownBenchmarkNames()).toEqual(['blocksworld', 'gsm8k', 'humaneval', 'tau2-retail', 'webshop', 'notes']);
      const other = await suiteWith({ verifier: () => 1 }, []);
      expect(() => registerBenchmark(Object.assign(Object.create(other), { name: 'notes' }))).toThrow('suite "notes" is already registered in this process');
      expect(() => registerBenchmark(Object.assign(Object.create(other), { name: 'gsm8k' }))).toThrow('suite "gsm8k" has the name of a built-in benchmark');
      expect(() => getBenchmark('nope')).toThrow('unknown benchmark or suite "nope"; this process knows: blocksworld, gsm8k, humaneval, tau2-retail, webshop, notes');
    } finally {
      clearRegisteredBenchmarks();
    }
  });
});
