import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { mcpToolProvider } from '../../suites/mcp';
import { episodeIdOf } from '../../suites/mcp/episode-placeholders';
import type { McpToolsConfig, ToolSession } from '../../suites/types';

/**
 * A fresh process is not fresh state for a server that writes to disk. The npm package
 * @modelcontextprotocol/server-memory (nobody here wrote it) keeps its graph in MEMORY_FILE_PATH: with one
 * fixed path, the second episode sees the first one's entities; with `{episodeDir}` each episode gets its
 * own empty folder, removed when its session closes.
 */
const MEMORY = require.resolve('@modelcontextprotocol/server-memory/dist/index.js');
const where = { configFile: 'harnessx.config.ts', suite: 'memory', index: 0, configDir: os.tmpdir() };
const provider = (config: McpToolsConfig) => mcpToolProvider(config, where);
const entityNames = async (session: ToolSession) => ((await session.state()) as { entities: Array<{ name: string }> }).entities.map((e) => e.name).sort();
const addEntity = (session: ToolSession, name: string) => session.call({ id: name, name: 'create_entities', args: { entities: [{ name, entityType: 'customer', observations: [] }] } });

jest.setTimeout(30_000);

describe('per-episode settings for a stdio MCP server that writes to disk', () => {
  it('without placeholders, a second episode sees the first one\'s writes (the problem)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'harnessx-shared-memory-'));
    const shared = provider({ mcp: { command: process.execPath, args: [MEMORY], env: { MEMORY_FILE_PATH: path.join(dir, 'memory.jsonl') } }, state: { resource: 'memory://knowledge-graph' } });
    try {
      const first = await shared.open({ suite: 'memory', taskId: 't1', seed: 'run|t1|0' });
      expect((await addEntity(first, 'Ada')).ok).toBe(true);
      await first.close();
      const second = await shared.open({ suite: 'memory', taskId: 't2', seed: 'run|t2|0' });
      expect(await entityNames(second)).toEqual(['Ada']);
      await second.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('with {episodeDir}, each episode starts empty, and its folder is gone after close', async () => {
    const isolated = provider({ mcp: { command: process.execPath, args: [MEMORY], env: { MEMORY_FILE_PATH: '{episodeDir}/memory.jsonl' } }, state: { resource: 'memory://knowledge-graph' } });
    const before = new Set(fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith('harnessx-episode-')));
    const first = await isolated.open({ suite: 'memory', taskId: 't1', seed: 'run|t1|0' });
    const second = await isolated.open({ suite: 'memory', taskId: 't1', seed: 'run|t1|1' });
    const created = fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith('harnessx-episode-') && !before.has(f));
    expect(created).toHaveLength(2);
    try {
      expect((await addEntity(first, 'Ada')).ok).toBe(true);
      expect((await addEntity(second, 'Grace')).ok).toBe(true);
      // Concurrent episodes of the same task, each with its own file.
      expect(await entityNames(first)).toEqual(['Ada']);
      expect(await entityNames(second)).toEqual(['Grace']);
      expect(created.map((d) => fs.existsSync(path.join(os.tmpdir(), d, 'memory.jsonl')))).toEqual([true, true]);
    } finally {
      await first.close();
      await second.close();
    }
    expect(created.filter((d) => fs.existsSync(path.join(os.tmpdir(), d)))).toEqual([]);
    const third = await isolated.open({ suite: 'memory', taskId: 't1', seed: 'run|t1|0' });
    expect(await entityNames(third)).toEqual([]);
    await third.close();
  });

  it('fills {taskId} and {episodeId} in args, env and cwd', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'harnessx-placeholders-'));
    const echo = 'require("fs").writeFileSync(require("path").join(process.cwd(), "seen.json"), JSON.stringify({ arg: process.argv[1], env: process.env.EPISODE })); require(process.env.MEMORY_SERVER);';
    try {
      const p = provider({ mcp: { command: process.execPath, args: ['-e', echo, 'task={taskId}'], env: { EPISODE: '{episodeId}', MEMORY_SERVER: MEMORY, MEMORY_FILE_PATH: '{episodeDir}/m.jsonl' }, cwd: '{episodeDir}' } });
      const session = await p.open({ suite: 'memory', taskId: 'T-7', seed: 'run|T-7|0' });
      const cwdDirs = fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith('harnessx-episode-') && fs.existsSync(path.join(os.tmpdir(), f, 'seen.json')));
      expect(cwdDirs).toHaveLength(1);
      expect(JSON.parse(fs.readFileSync(path.join(os.tmpdir(), cwdDirs[0], 'seen.json'), 'utf8'))).toEqual({ arg: 'task=T-7', env: episodeIdOf('run|T-7|0') });
      await session.close();
      expect(fs.existsSync(path.join(os.tmpdir(), cwdDirs[0]))).toBe(false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    // Episode ids are file-name safe and differ between attempts.
    expect(episodeIdOf('run|T-7|0')).toMatch(/^[0-9a-f]{16}$/);
    expect(episodeIdOf('run|T-7|0')).not.toBe(episodeIdOf('run|T-7|1'));
  });

  it('removes the folder of an episode whose server fails to start', async () => {
    const before = new Set(fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith('harnessx-episode-')));
    const failing = provider({ mcp: { command: process.execPath, args: ['-e', 'process.exit(3)'], env: { DATA: '{episodeDir}' } } });
    await expect(failing.open({ suite: 'memory', taskId: 't1', seed: 's' })).rejects.toThrow(/harnessx\.config\.ts: suites\.memory\.tools\[0\]/);
    expect(fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith('harnessx-episode-') && !before.has(f))).toEqual([]);
  });

  it('seeds each episode with its setup command before the server starts, and fails the start when setup fails', async () => {
    const seedScript = 'require("fs").writeFileSync(process.argv[1], JSON.stringify({ type: "entity", name: process.env.HARNESSX_TASK_ID + "-seed", entityType: "customer", observations: [process.env.HARNESSX_EPISODE_ID] }) + "\\n")';
    const seeded = provider({
      mcp: { command: process.execPath, args: [MEMORY], env: { MEMORY_FILE_PATH: '{episodeDir}/memory.jsonl' } },
      state: { resource: 'memory://knowledge-graph' },
      setup: { command: process.execPath, args: ['-e', seedScript, '{episodeDir}/memory.jsonl'] },
    });
    const session = await seeded.open({ suite: 'memory', taskId: 'T-7', seed: 'run|T-7|0' });
    try {
      const state = (await session.state()) as { entities: Array<{ name: string; observations: string[] }> };
      expect(state.entities).toEqual([expect.objectContaining({ name: 'T-7-seed', observations: [episodeIdOf('run|T-7|0')] })]);
    } finally {
      await session.close();
    }
    const before = new Set(fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith('harnessx-episode-')));
    const broken = provider({ mcp: { command: process.execPath, args: [MEMORY], env: { MEMORY_FILE_PATH: '{episodeDir}/m.jsonl' } }, setup: { command: process.execPath, args: ['-e', 'console.error("no fixture for " + process.env.HARNESSX_TASK_ID); process.exit(4)'] } });
    await expect(broken.open({ suite: 'memory', taskId: 'T-9', seed: 's' })).rejects.toThrow(/suites\.memory\.tools\[0\].*: setup `.*` exited with code 4; its stderr ended with:\n\s+no fixture for T-9/);
    expect(fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith('harnessx-episode-') && !before.has(f))).toEqual([]);
    expect(() => provider({ stateless: true, mcp: { command: 'node', args: [MEMORY] }, setup: { command: 'node' } })).toThrow(/setup seeds one episode's state, so it needs a stdio server that is not stateless/);
  });

  it('refuses placeholders on a stateless (shared) server, naming the field', () => {
    expect(() => provider({ stateless: true, mcp: { command: 'node', args: [MEMORY], env: { MEMORY_FILE_PATH: '{episodeDir}/m.jsonl' } } })).toThrow(
      /suites\.memory\.tools\[0\]: stateless is true, .*one shared server cannot have per-episode settings/,
    );
  });
});
