/**
 * Meta-agent tokens per round, with and without Anthropic prompt caching: one AEGIS round's worth of LLM
 * meta-agent calls (Digester per chunk, Planner, Evolver, Critic) on a real simulator rollout, answered by
 * a local Anthropic wire server that counts tokens as characters / 4 and emulates the provider's prompt
 * cache (a cache_control prefix of at least MIN_CACHEABLE tokens is written on first sight, read after).
 * Usage: npx tsx tests/helpers/meta-token-report.ts [batch=12] [rounds=3]
 */
import { digestTraces } from '../../aegis/digester';
import { LlmMetaAgent } from '../../aegis/llm/llm-meta-agent';
import { rolloutTasks } from '../../aegis/rollout';
import type { Candidate } from '../../aegis/types';
import { getBenchmark } from '../../benchmarks/registry';
import { harnessId } from '../../harness/config';
import { seedHarness } from '../../harness/seed';
import { AnthropicModel } from '../../models/anthropic/anthropic-model';
import { digestAll, forcedTool, stageOf, userPayload } from './scripted-meta-agent';
import { startWireServer } from './wire-server';

const MIN_CACHEABLE = 1024;
const tokens = (value: unknown) => Math.ceil((typeof value === 'string' ? value : JSON.stringify(value)).length / 4);

async function main() {
  const batch = Number(process.argv[2] ?? 12);
  const rounds = Number(process.argv[3] ?? 3);
  const bench = getBenchmark('blocksworld');
  const config = seedHarness('sim:small');
  const ids = bench.tasks().filter((t) => t.split === 'train').slice(0, batch).map((t) => t.id);
  const rollout = await rolloutTasks({ benchmark: bench, config, harnessId: harnessId(config), taskIds: ids, k: 2, seed: 'tokens', keepTraces: true });
  const digest = digestTraces({ round: 1, harnessId: harnessId(config), config, traces: rollout.traces, outcomes: rollout.outcomes, previous: null });

  for (const caching of [false, true]) {
    const cache = new Set<string>();
    const server = await startWireServer((req) => {
      const stage = stageOf(req.body);
      const { user } = userPayload(req.body);
      const prefix = { tools: req.body.tools, system: req.body.system };
      const prefixTokens = tokens(prefix);
      const total = prefixTokens + tokens(req.body.messages);
      const cacheable = caching && prefixTokens >= MIN_CACHEABLE;
      const key = JSON.stringify(prefix);
      const read = cacheable && cache.has(key) ? prefixTokens : 0;
      const write = cacheable && !cache.has(key) ? prefixTokens : 0;
      if (cacheable) cache.add(key);
      const reply =
        stage === 'digest' ? digestAll(user)
        : stage === 'plan' ? { options: [{ category: 'loop', bucket: 'processor', direction: 'Add loop detection before the model.', editTypes: ['insert:loop_detection@before_model'], targetTasks: [] }], untriedEditTypes: [], notes: '' }
        : stage === 'evolve' ? { candidates: [{ bucket: 'processor', rationale: 'warn on loops', changes: [{ op: 'insert', hook: 'before_model', processor: { id: 'loop_detection', type: 'loop_detection', params: {} } }], evidence: ['loops'], predictedImpact: { tasksWillUnlock: [], stabilize: [], atRisk: [] } }] }
        : { decision: 'ship_ranking', ranking: [(user.candidates as Array<{ candidateId: string }>)[0].candidateId], notes: [] };
      const output = tokens(reply);
      if (process.env.DEBUG_TOKENS) console.log(`${stage}: prefix ${prefixTokens} tokens, messages ${tokens(req.body.messages)} tokens`);
      return { body: { id: 'm', type: 'message', role: 'assistant', model: 'emulated', content: [{ type: 'tool_use', id: 't', name: forcedTool(req.body) ?? 'x', input: reply }], stop_reason: 'tool_use', stop_sequence: null, usage: { input_tokens: total - read - write, output_tokens: output, cache_read_input_tokens: read, cache_creation_input_tokens: write } } };
    });
    const agent = new LlmMetaAgent(new AnthropicModel('claude-emulated', 'k', server.url));
    for (let round = 1; round <= rounds; round++) {
      const refined = await agent.digest({ digest: { ...digest, round }, traces: rollout.traces, config });
      const landscape = await agent.plan({ digest: refined, tried: [], config });
      const drafts = await agent.evolve({ landscape, digest: refined, config, maxCandidates: 2, round });
      const candidates: Candidate[] = drafts.map(({ config: c, ...d }) => ({ ...d, harnessId: harnessId(c) }));
      await agent.critique({ candidates, digest: refined, reputation: {}, config, round });
    }
    await server.close();
    const u = agent.usage();
    const read = u.usage.cacheReadTokens ?? 0;
    const write = u.usage.cacheWriteTokens ?? 0;
    // Anthropic's documented multipliers: cache reads 0.1×, 5-minute cache writes 1.25× the input price.
    const inputCostUnits = u.usage.inputTokens - read - write + 0.1 * read + 1.25 * write;
    console.log(
      `${caching ? 'with caching   ' : 'without caching'}: ${u.calls / rounds} calls/round, ${Math.round(u.usage.inputTokens / rounds)} input tokens/round (${Math.round(read / rounds)} cache reads, ${Math.round(write / rounds)} cache writes), ${Math.round(u.usage.outputTokens / rounds)} output tokens/round; input billed as ${Math.round(inputCostUnits / rounds)} full-price tokens/round`,
    );
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
