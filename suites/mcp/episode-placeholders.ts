import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { execFile } from 'node:child_process';

/** The server settings this module reads (check-config's McpServerSpec; not imported, so the two files form no cycle). */
type McpServerSpec = { transport: 'stdio'; command: string; args: string[]; env: Record<string, string>; cwd: string } | { transport: 'http' };

/** The per-episode seeding command, as check-config checked it (McpOptions['setup']). */
export interface EpisodeSetup {
  command: string;
  args: string[];
  timeoutMs: number;
  cwd: string;
}

/**
 * Per-episode settings for a stdio MCP server. A fresh process is not fresh state for a server that writes
 * to disk (the memory server keeps its graph in a file): every episode would see the earlier ones' writes.
 * `{episodeDir}` (a new empty folder per episode, removed when the episode's session closes), `{taskId}` and
 * `{episodeId}` in the server's `env` values, `args` and `cwd` give each episode its own file.
 */
export const EPISODE_PLACEHOLDERS = ['{episodeDir}', '{taskId}', '{episodeId}'] as const;

/** Whether a stdio server's settings name any placeholder (then each session needs its own values). */
export function usesPlaceholders(server: McpServerSpec): boolean {
  if (server.transport !== 'stdio') return false;
  const texts = [...server.args, ...Object.values(server.env), server.cwd];
  return texts.some((t) => EPISODE_PLACEHOLDERS.some((p) => t.includes(p)));
}

/** Whether the settings name `{episodeDir}` (then the folder is created for the episode). */
function usesEpisodeDir(server: McpServerSpec): boolean {
  return server.transport === 'stdio' && [...server.args, ...Object.values(server.env), server.cwd].some((t) => t.includes('{episodeDir}'));
}

/** The episode's id in file-name-safe form: the episode seed (run seed | task | attempt) hashed, so two episodes never share it. */
export function episodeIdOf(seed: string): string {
  return createHash('sha256').update(seed).digest('hex').slice(0, 16);
}

export interface EpisodeServer<S> {
  server: S;
  /** Removes what the episode created (its folder); safe to call more than once. */
  teardown(): Promise<void>;
}

/**
 * The server settings for one episode, placeholders filled in, and the teardown of its folder. A cwd
 * that became relative after substitution stays relative to the config file's folder (checked already).
 */
export async function forEpisode<S extends McpServerSpec>(server: S, episode: { taskId: string; seed: string }, setup?: EpisodeSetup): Promise<EpisodeServer<S>> {
  if (server.transport !== 'stdio' || (!usesPlaceholders(server) && !setup)) return { server, teardown: async () => undefined };
  const dir = usesEpisodeDir(server) || setup ? await mkdtemp(path.join(tmpdir(), 'harnessx-episode-')) : null;
  const values: Record<string, string> = { '{episodeDir}': dir ?? '', '{taskId}': episode.taskId, '{episodeId}': episodeIdOf(episode.seed) };
  const fill = (text: string) => text.replace(/\{episodeDir\}|\{taskId\}|\{episodeId\}/g, (p) => values[p]);
  let removed = false;
  if (setup) {
    try {
      await runSetup(setup, setup.args.map(fill), { HARNESSX_TASK_ID: episode.taskId, HARNESSX_EPISODE_ID: values['{episodeId}'], HARNESSX_EPISODE_DIR: dir ?? '' });
    } catch (e) {
      if (dir) await rm(dir, { recursive: true, force: true });
      throw e;
    }
  }
  return {
    server: { ...server, args: server.args.map(fill), env: Object.fromEntries(Object.entries(server.env).map(([k, v]) => [k, fill(v)])), cwd: fill(server.cwd) },
    teardown: async () => {
      if (removed || !dir) return;
      removed = true;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The setup command; its failure says the exit code (or the timeout) and the end of its stderr. */
function runSetup(setup: EpisodeSetup, args: string[], env: Record<string, string>): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(setup.command, args, { cwd: setup.cwd, env: { ...process.env, ...env }, timeout: setup.timeoutMs, killSignal: 'SIGKILL' }, (error, _stdout, stderr) => {
      if (!error) return resolve();
      const how = error.killed ? `did not finish within ${setup.timeoutMs} ms` : typeof error.code === 'number' ? `exited with code ${error.code}` : error.message;
      const tail = String(stderr).trim().split('\n').slice(-6).join('\n    ');
      reject(new Error(`setup \`${[setup.command, ...args].join(' ')}\` ${how}${tail ? `; its stderr ended with:\n    ${tail}` : ''}`));
    });
  });
}
