import * as path from 'node:path';
import type { McpToolsConfig } from '../types';
import { EPISODE_PLACEHOLDERS, type EpisodeSetup, usesPlaceholders } from './episode-placeholders';

/** Where a provider comes from, as every error about it says: `harnessx.config.ts: suites.support.tools[0] (mcp stdio \`node server.mjs\`)`. */
export interface McpWhere {
  configFile: string;
  suite: string;
  index: number;
  configDir: string;
}

export type McpServerSpec =
  | { transport: 'stdio'; command: string; args: string[]; env: Record<string, string>; cwd: string }
  | { transport: 'http'; url: URL; headers: Record<string, string> };

/** A checked McpToolsConfig with its defaults filled in. */
export interface McpOptions {
  server: McpServerSpec;
  /** For errors and ToolProvider.label; never holds env values, headers or a URL's query or password. */
  label: string;
  /** Prefix of every error: config file, suite, tools[index] and the label. */
  where: string;
  stateless: boolean;
  state: { resource: string } | { tool: string; args: Record<string, unknown> } | undefined;
  /** Tools the model never sees: the configured hidden ones and the state tool. */
  hidden: Set<string>;
  startTimeoutMs: number;
  callTimeoutMs: number;
  /** The per-episode seeding command, run in the config file's folder. */
  setup?: EpisodeSetup;
}

const DEFAULT_START_TIMEOUT_MS = 20_000;
const DEFAULT_CALL_TIMEOUT_MS = 60_000;

/**
 * Checks one `tools[i]` MCP entry of a suite when the config loads, so a typo is reported with its place
 * in the file rather than as a failed episode later.
 */
export function checkMcpConfig(config: McpToolsConfig, where: McpWhere): McpOptions {
  const at = `${where.configFile}: suites.${where.suite}.tools[${where.index}]`;
  const fail = (field: string, expected: string): never => {
    throw new Error(`${at}: ${field} ${expected}`);
  };
  if (!isObject(config)) fail('', 'must be an object such as { mcp: { command: "node", args: ["server.mjs"] } }');
  const mcp = config.mcp as unknown;
  if (!isObject(mcp)) fail('mcp', 'must be { command, args?, env?, cwd? } (stdio) or { url, headers? } (Streamable HTTP)');
  const m = mcp as Record<string, unknown>;
  if ('command' in m && 'url' in m) fail('mcp', 'has both command and url; give one: command for a stdio server, url for Streamable HTTP');

  let server: McpServerSpec;
  let label: string;
  if ('command' in m) {
    if (typeof m.command !== 'string' || !m.command.trim()) fail('mcp.command', 'must be a non-empty string (the program to run, e.g. "node" or "npx")');
    const args = m.args ?? [];
    if (!Array.isArray(args) || !args.every((a) => typeof a === 'string')) fail('mcp.args', 'must be an array of strings');
    const env = m.env ?? {};
    if (!isObject(env) || !Object.values(env).every((v) => typeof v === 'string')) fail('mcp.env', 'must be an object of string values');
    if (m.cwd !== undefined && (typeof m.cwd !== 'string' || !m.cwd)) fail('mcp.cwd', 'must be a non-empty string (a folder, relative to the config file)');
    // Relative cwd (and, with no cwd, relative paths in args) mean "next to the config file", wherever the worker runs.
    // A cwd that starts with {episodeDir} is filled in per episode (an absolute temporary folder).
    const rawCwd = (m.cwd as string | undefined) ?? '.';
    const cwd = rawCwd.startsWith('{episodeDir}') ? rawCwd : path.resolve(where.configDir, rawCwd);
    server = { transport: 'stdio', command: m.command as string, args: args as string[], env: env as Record<string, string>, cwd };
    label = `mcp stdio \`${[m.command as string, ...redactArgs(args as string[])].join(' ')}\``;
  } else if ('url' in m) {
    if (typeof m.url !== 'string') fail('mcp.url', 'must be a string such as "http://127.0.0.1:3000/mcp"');
    let url: URL;
    try {
      url = new URL(m.url as string);
    } catch {
      return fail('mcp.url', `must be an absolute http(s) URL; got "${redactUrl(m.url as string)}"`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') fail('mcp.url', `must be an http:// or https:// URL; got "${url.protocol}"`);
    const headers = m.headers ?? {};
    if (!isObject(headers) || !Object.values(headers).every((v) => typeof v === 'string')) fail('mcp.headers', 'must be an object of string values');
    server = { transport: 'http', url, headers: headers as Record<string, string> };
    label = `mcp http ${redactUrl(url.href)}`;
  } else {
    return fail('mcp', 'needs either command (a stdio server) or url (a Streamable HTTP server)');
  }

  if (config.stateless !== undefined && typeof config.stateless !== 'boolean') fail('stateless', 'must be true or false');
  if (config.stateless && usesPlaceholders(server!))
    fail('stateless', `is true, but mcp.args, mcp.env or mcp.cwd name ${EPISODE_PLACEHOLDERS.join(', ')}: one shared server cannot have per-episode settings (leave stateless out)`);
  const hidden = new Set<string>();
  if (config.hidden !== undefined) {
    if (!Array.isArray(config.hidden) || !config.hidden.every((h) => typeof h === 'string' && h)) fail('hidden', 'must be an array of tool names');
    for (const h of config.hidden) hidden.add(h);
  }
  let state: McpOptions['state'];
  if (config.state !== undefined) {
    const s = config.state as unknown;
    if (isObject(s) && typeof s.resource === 'string' && s.resource && !('tool' in s)) state = { resource: s.resource };
    else if (isObject(s) && typeof s.tool === 'string' && s.tool && !('resource' in s)) {
      if (s.args !== undefined && !isObject(s.args)) fail('state.args', 'must be an object of arguments for the state tool');
      state = { tool: s.tool, args: (s.args as Record<string, unknown> | undefined) ?? {} };
      // The state tool is the verifier's, not the model's.
      hidden.add(s.tool);
    } else fail('state', 'must be { resource: "uri" } or { tool: "name", args?: {…} }');
  }
  const startTimeoutMs = checkMs(config.startTimeoutMs, DEFAULT_START_TIMEOUT_MS, 'startTimeoutMs', fail);
  const callTimeoutMs = checkMs(config.callTimeoutMs, DEFAULT_CALL_TIMEOUT_MS, 'callTimeoutMs', fail);
  let setup: McpOptions['setup'];
  if (config.setup !== undefined) {
    const u = config.setup as unknown;
    if (!isObject(u) || typeof u.command !== 'string' || !u.command) fail('setup', 'must be { command, args?, timeoutMs? }, e.g. { command: "node", args: ["seed.mjs", "{episodeDir}"] }');
    const su = u as Record<string, unknown>;
    if (su.args !== undefined && (!Array.isArray(su.args) || !su.args.every((a) => typeof a === 'string'))) fail('setup.args', 'must be an array of strings');
    if (server!.transport !== 'stdio' || config.stateless) fail('setup', 'seeds one episode\'s state, so it needs a stdio server that is not stateless');
    setup = { command: su.command as string, args: (su.args as string[] | undefined) ?? [], timeoutMs: checkMs(su.timeoutMs, startTimeoutMs, 'setup.timeoutMs', fail), cwd: where.configDir };
  }
  return { server, label, where: `${at} (${label})`, stateless: config.stateless ?? false, state, hidden, startTimeoutMs, callTimeoutMs, setup };
}

function checkMs(value: unknown, fallback: number, field: string, fail: (field: string, expected: string) => never): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) fail(field, 'must be a positive number of milliseconds');
  return value as number;
}

/** Flags whose value is a credential; users should pass those in env, but some servers take them as arguments. */
const SECRET_FLAG = /^--?[\w-]*(key|token|secret|password|passwd|credential|auth)[\w-]*$/i;

/** Command arguments for labels: the value of a credential flag (`--api-key X`, `--token=X`) becomes "…". */
export function redactArgs(args: string[]): string[] {
  return args.map((arg, i) => {
    const eq = arg.indexOf('=');
    if (arg.startsWith('-') && eq > 0 && SECRET_FLAG.test(arg.slice(0, eq))) return `${arg.slice(0, eq)}=…`;
    return i > 0 && SECRET_FLAG.test(args[i - 1]) && !arg.startsWith('-') ? '…' : arg;
  });
}

/** A URL without its password and query string, which may carry tokens. */
export function redactUrl(href: string): string {
  try {
    const url = new URL(href);
    return `${url.protocol}//${url.username || url.password ? '…@' : ''}${url.host}${url.pathname}${url.search ? '?…' : ''}`;
  } catch {
    return href.replace(/[?#].*$/, '');
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
