/**
 * The ticket-desk suite: an IT support desk behind an MCP server (server.mjs), 36 tasks (tasks.jsonl) and a
 * verifier that checks the desk's final state (verify.mjs). Paths are relative to this file.
 *
 *   npx harnessx check-benchmark --config examples/ticket-desk/harnessx.config.ts --suite ticket-desk
 *
 * With harnessx installed, wrap the object in defineConfig to have it type-checked:
 *   import { defineConfig } from 'harnessx';
 *   export default defineConfig({ suites: { … } });
 */
import type { EpisodeRecord } from './verify.mjs' with { 'resolution-mode': 'import' };

export default {
  suites: {
    'ticket-desk': {
      description: 'An IT support ticket desk: triage, updates, new tickets and questions answered from the tickets, through MCP tools.',
      tasks: './tasks.jsonl',
      tools: [
        {
          // A fresh server process per episode, so every episode starts from desk.json.
          mcp: { command: 'node', args: ['server.mjs'] },
          // After the episode HarnessX reads this resource and hands it to the verifier as the final state.
          state: { resource: 'ticketdesk://state' },
          // The verifier's view of the desk is not a tool for the model.
          hidden: ['get_desk_state'],
        },
      ],
      // verify.mjs is an ES module: import() loads it from a CommonJS config (like this one) and an ESM one alike.
      verifier: async (record: EpisodeRecord) => (await import('./verify.mjs')).verify(record),
    },
  },
};
