import type { ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { buildReport } from '../../report/build-report';
import { loadRun } from '../../report/load-run';
import { ArtifactStore } from '../../store/artifact-store';
import type { RunSummary } from '../../workflows/evolve-harness';
import { digestAll, scriptedMetaAgent } from '../helpers/scripted-meta-agent';
import { openaiToolCall, startWireServer } from '../helpers/wire-server';
import { startDevServer, tempDataDir } from './temporal-env';
import { killAll, spawnWorker } from './worker-process';

jest.setTimeout(180_000);

const CANARY = 'sk-canary-9b1f4e7a2c6d';
/** The LLM meta-agent's key (Anthropic protocol), scanned for the same way. */
const META_CANARY = 'sk-ant-canary-51d0c3e8aa';
const children: ChildProcess[] = [];
afterAll(() => killAll(children));

/** History JSON plus every payload decoded: a key could hide inside base64 payload data. */
function readableHistory(history: unknown): string {
  const json = JSON.stringify(history);
  const decoded = [...json.matchAll(/"data":"([A-Za-z0-9+/=]+)"/g)].map((m) => Buffer.from(m[1], 'base64').toString('utf8'));
  return `${json}\n${decoded.join('\n')}`;
}

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? files(join(dir, f)) : [join(dir, f)]));
}

it('a run against a keyed provider never writes the key to history, traces, store, report or worker logs', async () => {
  const meta = scriptedMetaAgent([
    { stage: 'digest', repeat: true, reply: (u) => digestAll(u) },
    { stage: 'plan', reply: () => ({ options: [], untriedEditTypes: [] }) },
  ]);
  const server = await startWireServer((r) => (r.path === '/v1/chat/completions' ? { body: openaiToolCall('pick_up', '{"block":"red"}') } : r.path === '/v1/messages' ? meta.respond(r) : undefined));
  const env = await startDevServer();
  const dataDir = tempDataDir();
  let logs = '';
  try {
    // A real worker process with the key in its environment, logging at DEBUG; everything it prints is scanned.
    await spawnWorker(
      { address: env.address, dataDir, env: { OPENAI_COMPATIBLE_API_KEY: CANARY, ANTHROPIC_API_KEY: META_CANARY, ANTHROPIC_BASE_URL: server.url, HARNESSX_TASK_QUEUE: 'it-secrets', HARNESSX_LOG_LEVEL: 'DEBUG' }, onOutput: (t) => void (logs += t) },
      children,
    );
    const model = `openai-compatible:canary-model@${server.url}/v1`;
    const input = { benchmark: 'blocksworld', model, metaAgent: 'anthropic:claude-canary', rounds: 1, batchSize: 3, validationSize: 2, k: 1, seed: 'canary', evaluateTest: false, trackHeldOut: false, finalTrainTasks: 3 };
    const summary = (await env.client.workflow.execute('evolveHarness', { taskQueue: 'it-secrets', workflowId: 'it-secrets', args: [input] })) as RunSummary;
    expect(summary.rounds).toBe(1);
    expect(server.requests.length).toBeGreaterThan(10);
    const [meta_, task] = [server.requests.filter((r) => r.path === '/v1/messages'), server.requests.filter((r) => r.path !== '/v1/messages')];
    expect(task.every((r) => r.headers.authorization === `Bearer ${CANARY}`)).toBe(true);
    expect(meta_.length).toBeGreaterThanOrEqual(2);
    expect(meta_.every((r) => JSON.stringify(r.headers).includes(META_CANARY))).toBe(true);
    meta.assertConsumed();

    const history = readableHistory(await env.client.workflow.getHandle('it-secrets').fetchHistory());
    expect(history).toContain('canary-model');
    expect(history).not.toContain(CANARY);
    expect(history).not.toContain(META_CANARY);
    for (const file of files(dataDir)) {
      const raw = readFileSync(file);
      const text = (file.endsWith('.gz') ? gunzipSync(raw) : raw).toString();
      expect(text).not.toContain(CANARY);
      expect(text).not.toContain(META_CANARY);
    }
    const report = buildReport(await loadRun(new ArtifactStore(dataDir), 'it-secrets'));
    expect(report).not.toContain(CANARY);
    expect(report).not.toContain(META_CANARY);
    expect(logs.length).toBeGreaterThan(100);
    expect(logs).not.toContain(CANARY);
    expect(logs).not.toContain(META_CANARY);
  } finally {
    killAll(children);
    await server.close();
    await env.teardown();
  }
});
