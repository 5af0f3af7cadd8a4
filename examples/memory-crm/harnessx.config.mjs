/**
 * The memory CRM suite: a customer knowledge graph kept by @modelcontextprotocol/server-memory (an MCP server
 * from npm that nobody here wrote), 6 tasks (tasks.jsonl) and a verifier reading memory://knowledge-graph.
 *
 *   npx harnessx check-benchmark --config examples/memory-crm/harnessx.config.mjs --suite memory-crm
 *
 * The server saves its graph to MEMORY_FILE_PATH, so a fresh process per episode is not a fresh graph: each
 * episode gets its own file in {episodeDir} (removed after the episode), seeded by seed.mjs before the server starts.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export default {
  suites: {
    'memory-crm': {
      description: 'A customer knowledge graph in the MCP memory server: add customers, facts and relations, remove leavers.',
      tasks: './tasks.jsonl',
      tools: [
        {
          mcp: { command: process.execPath, args: [require.resolve('@modelcontextprotocol/server-memory/dist/index.js')], env: { MEMORY_FILE_PATH: '{episodeDir}/memory.jsonl' } },
          setup: { command: process.execPath, args: ['seed.mjs', '{episodeDir}/memory.jsonl'] },
          state: { resource: 'memory://knowledge-graph' },
        },
      ],
      verifier: async (record) => (await import('./verify.mjs')).verify(record),
    },
  },
};
