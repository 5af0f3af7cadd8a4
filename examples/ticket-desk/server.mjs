#!/usr/bin/env node
// The IT ticket desk as an MCP server, written with the official SDK. Every MCP session is one desk that
// starts from desk.json, so no two episodes ever share state:
//
//   node server.mjs                  stdio: one process, one session (HarnessX starts a process per episode)
//   node server.mjs --http 3333      Streamable HTTP on http://127.0.0.1:3333/mcp: one long-running process,
//                                    a fresh desk for each session (HarnessX opens a session per episode)
//
// Try it by hand with `npx @modelcontextprotocol/inspector node server.mjs`.
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';
import { createDesk, DeskError, PRIORITIES, SETTABLE_STATUSES, STATUSES, TEAMS } from './desk.mjs';

/** Results are JSON text the model reads; desk rule violations come back as tool errors, never as crashes. */
function handler(run) {
  return async (args) => {
    try {
      return { content: [{ type: 'text', text: JSON.stringify(run(args)) }] };
    } catch (error) {
      if (error instanceof DeskError) return { isError: true, content: [{ type: 'text', text: `Error: ${error.message}` }] };
      throw error;
    }
  };
}

/** One MCP server in front of one desk. */
function buildServer(desk = createDesk()) {
  const server = new McpServer({ name: 'ticket-desk', version: '1.0.0' });

  const ticketId = z.string().min(1).describe('Ticket id, e.g. T-1004');
  const priority = z.enum(PRIORITIES).describe('Priority: low, normal, high or urgent');
  const team = z.enum(TEAMS).describe('Team id: service-desk, network, hardware, identity, apps or security');

  server.registerTool(
    'search_tickets',
    {
      description: 'Finds tickets. Every word of `query` must appear in the ticket id, title, description or requester. Closed tickets are left out unless include_closed is true or status is "closed".',
      inputSchema: {
        query: z.string().optional().describe('Words to look for, e.g. "vpn" or "printer 3rd floor"'),
        status: z.enum(STATUSES).optional().describe('Only tickets with this status'),
        priority: priority.optional(),
        team: team.optional(),
        assignee: z.string().optional().describe('Only tickets assigned to this agent id, e.g. dana.kim'),
        requester: z.string().optional().describe('Only tickets raised by this person, e.g. maria.gomez'),
        include_closed: z.boolean().optional().describe('Also return closed tickets (default false)'),
      },
      annotations: { readOnlyHint: true },
    },
    handler((args) => desk.search(args)),
  );

  server.registerTool(
    'get_ticket',
    { description: 'Shows one ticket in full: description, status, priority, team, assignee, resolution and comments.', inputSchema: { ticket_id: ticketId }, annotations: { readOnlyHint: true } },
    handler(({ ticket_id }) => desk.get(ticket_id)),
  );

  server.registerTool(
    'create_ticket',
    {
      description: 'Opens a new ticket on behalf of a requester. New tickets start open and unassigned.',
      inputSchema: {
        title: z.string().min(5).describe('One-line summary of the problem or request'),
        description: z.string().min(1).describe('What the requester needs, in a sentence or two'),
        requester: z.string().min(1).describe('Who asked, as a login name, e.g. hannah.lee'),
        priority: priority.optional().describe('Priority: low, normal, high or urgent (default normal)'),
        team: team.optional().describe('Team to route it to (default service-desk)'),
      },
    },
    handler((args) => desk.create(args)),
  );

  server.registerTool(
    'update_ticket',
    {
      description:
        'Changes the status, priority and/or assignee of an open ticket. The assignee must be an agent on the ticket\'s team. A ticket can only be in_progress with an assignee. Use close_ticket to close and reopen_ticket to reopen.',
      inputSchema: {
        ticket_id: ticketId,
        status: z.enum(SETTABLE_STATUSES).optional().describe('New status: open, in_progress or waiting_on_user'),
        priority: priority.optional(),
        assignee: z.string().optional().describe('Agent id to assign, e.g. tom.okafor'),
      },
    },
    handler((args) => desk.update(args)),
  );

  server.registerTool(
    'add_comment',
    { description: 'Adds a comment to a ticket (visible to the requester and the team).', inputSchema: { ticket_id: ticketId, body: z.string().min(1).describe('The comment text') } },
    handler((args) => desk.comment(args)),
  );

  server.registerTool(
    'assign_team',
    { description: 'Routes an open ticket to a team. An assignee who is not on the new team is unassigned.', inputSchema: { ticket_id: ticketId, team } },
    handler((args) => desk.assignTeam(args)),
  );

  server.registerTool(
    'close_ticket',
    { description: 'Closes a ticket with a resolution saying what fixed it.', inputSchema: { ticket_id: ticketId, resolution: z.string().min(10).describe('What was done to resolve it, for the requester and for the next person with the same problem') } },
    handler((args) => desk.close(args)),
  );

  server.registerTool(
    'reopen_ticket',
    { description: 'Reopens a closed ticket; the reason is added as a comment.', inputSchema: { ticket_id: ticketId, reason: z.string().min(1).describe('Why it is being reopened') } },
    handler((args) => desk.reopen(args)),
  );

  server.registerTool(
    'list_agents',
    { description: 'Lists support agents (id, name, team) with how many open tickets each has.', inputSchema: { team: team.optional().describe('Only agents on this team') }, annotations: { readOnlyHint: true } },
    handler((args) => desk.agents(args)),
  );

  server.registerTool(
    'list_teams',
    { description: 'Lists the teams tickets can be routed to and what each handles.', inputSchema: {}, annotations: { readOnlyHint: true } },
    handler(() => desk.teams()),
  );

  // For the verifier only: HarnessX reads the final state through this resource (or, in the JSON config, the
  // hidden tool below) after the episode. Neither is offered to the model.
  server.registerResource(
    'desk-state',
    'ticketdesk://state',
    { description: 'The whole desk (tickets, agents, teams) as JSON, for verifiers.', mimeType: 'application/json' },
    async (uri) => ({ contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify(desk.snapshot()) }] }),
  );

  server.registerTool(
    'get_desk_state',
    { description: 'The whole desk as JSON, for verifiers. Configured as hidden: the model never sees it.', inputSchema: {}, annotations: { readOnlyHint: true } },
    handler(() => desk.snapshot()),
  );

  return server;
}

/** Streamable HTTP: a session per initialize, each with its own desk; DELETE (or the client closing) ends it. */
async function serveHttp(port) {
  const sessions = new Map();
  const http = createServer(async (req, res) => {
    try {
      if (new URL(req.url ?? '/', 'http://localhost').pathname !== '/mcp') return void res.writeHead(404).end('the MCP endpoint is /mcp');
      const id = req.headers['mcp-session-id'];
      let transport = typeof id === 'string' ? sessions.get(id) : undefined;
      if (typeof id === 'string' && !transport)
        return void res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32001, message: `unknown session ${id}` }, id: null }));
      if (!transport) {
        // No session id: only an initialize may start one (the transport itself refuses anything else).
        transport = new StreamableHTTPServerTransport({ sessionIdGenerator: () => randomUUID(), onsessioninitialized: (sid) => sessions.set(sid, transport) });
        transport.onclose = () => transport.sessionId && sessions.delete(transport.sessionId);
        await buildServer(createDesk()).connect(transport);
      }
      await transport.handleRequest(req, res);
    } catch (error) {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' }).end(String(error?.message ?? error));
    }
  });
  await new Promise((resolve) => http.listen(port, '127.0.0.1', resolve));
  // Tests and scripts read the actual port (with --http 0) from this line.
  process.stderr.write(`ticket-desk MCP server listening on http://127.0.0.1:${http.address().port}/mcp\n`);
  const stop = () => http.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

const httpFlag = process.argv.indexOf('--http');
if (httpFlag >= 0) {
  const port = Number(process.argv[httpFlag + 1] ?? 3333);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`server.mjs: --http needs a port number (0 picks a free one), got "${process.argv[httpFlag + 1]}"\n`);
    process.exit(2);
  }
  await serveHttp(port);
} else {
  await buildServer().connect(new StdioServerTransport());
}
