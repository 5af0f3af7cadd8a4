// The ticket desk itself: plain data and the rules a real service desk enforces. No MCP here, so the rules
// can be read (and tested) on their own; server.mjs puts them behind MCP tools.
import { readFileSync } from 'node:fs';

export const PRIORITIES = ['low', 'normal', 'high', 'urgent'];
export const STATUSES = ['open', 'in_progress', 'waiting_on_user', 'closed'];
/** Statuses update_ticket may set: closing needs a resolution (close_ticket), reopening a reason (reopen_ticket). */
export const SETTABLE_STATUSES = ['open', 'in_progress', 'waiting_on_user'];
export const TEAMS = ['service-desk', 'network', 'hardware', 'identity', 'apps', 'security'];

/** The seed every session starts from: 20 tickets, six teams, twelve agents. */
export function loadSeed() {
  return JSON.parse(readFileSync(new URL('./desk.json', import.meta.url), 'utf8'));
}

/** A rule the desk refuses to break; the server returns it to the model as a tool error (isError). */
export class DeskError extends Error {}

/** "T-1005", "t-1005" and "1005" all name ticket T-1005 (models and people write ids all three ways). */
export function canonicalTicketId(raw) {
  const text = String(raw ?? '').trim().toUpperCase();
  return /^\d+$/.test(text) ? `T-${text}` : text;
}

const summary = (t) => ({ id: t.id, title: t.title, status: t.status, priority: t.priority, team: t.team, assignee: t.assignee, requester: t.requester });

/** One desk: its state lives as long as the object (the server makes one per process, i.e. per episode). */
export function createDesk(seed = loadSeed()) {
  const state = structuredClone(seed);
  let nextNumber = Math.max(...state.tickets.map((t) => Number(t.id.slice(2)))) + 1;

  const users = new Map(state.users.map((u) => [u.id, u]));
  const find = (rawId) => {
    const id = canonicalTicketId(rawId);
    const ticket = state.tickets.find((t) => t.id === id);
    if (!ticket) throw new DeskError(`no ticket ${id}; ticket ids look like T-1001 (search_tickets finds them by text)`);
    return ticket;
  };
  const open = (rawId, action) => {
    const ticket = find(rawId);
    if (ticket.status === 'closed') throw new DeskError(`${ticket.id} is closed; reopen it with reopen_ticket before you ${action}`);
    return ticket;
  };
  const agent = (userId) => {
    const user = users.get(String(userId).trim().toLowerCase());
    if (!user) throw new DeskError(`no agent "${userId}"; agents are named by id, e.g. dana.kim (list_agents lists them)`);
    return user;
  };

  return {
    search({ query, status, priority, team, assignee, requester, include_closed = false }) {
      const words = String(query ?? '').toLowerCase().split(/\s+/).filter(Boolean);
      const hits = state.tickets.filter((t) => {
        if (status ? t.status !== status : t.status === 'closed' && !include_closed) return false;
        if (priority && t.priority !== priority) return false;
        if (team && t.team !== team) return false;
        if (assignee && t.assignee !== String(assignee).toLowerCase()) return false;
        if (requester && t.requester !== String(requester).toLowerCase()) return false;
        const text = `${t.id} ${t.title} ${t.description} ${t.requester}`.toLowerCase();
        return words.every((w) => text.includes(w));
      });
      return { count: hits.length, tickets: hits.map(summary) };
    },

    get(id) {
      return structuredClone(find(id));
    },

    create({ title, description, requester, priority = 'normal', team = 'service-desk' }) {
      const ticket = { id: `T-${nextNumber++}`, title, description, requester: requester.toLowerCase(), status: 'open', priority, team, assignee: null, resolution: null, comments: [] };
      state.tickets.push(ticket);
      return structuredClone(ticket);
    },

    update({ ticket_id, status, priority, assignee }) {
      const ticket = open(ticket_id, 'update it');
      if (status === undefined && priority === undefined && assignee === undefined) throw new DeskError('nothing to update: give status, priority or assignee');
      // Validate everything first so a refused update changes nothing.
      const nextAssignee = assignee === undefined ? ticket.assignee : agent(assignee).id;
      if (assignee !== undefined && users.get(nextAssignee).team !== ticket.team)
        throw new DeskError(`${nextAssignee} is on the ${users.get(nextAssignee).team} team, but ${ticket.id} belongs to ${ticket.team}; move it with assign_team first`);
      const nextStatus = status ?? ticket.status;
      if (nextStatus === 'in_progress' && !nextAssignee) throw new DeskError(`${ticket.id} has no assignee; assign someone before setting it in_progress`);
      Object.assign(ticket, { status: nextStatus, priority: priority ?? ticket.priority, assignee: nextAssignee });
      return summary(ticket);
    },

    comment({ ticket_id, body }) {
      const ticket = find(ticket_id);
      ticket.comments.push({ author: 'service-desk-agent', body });
      return { id: ticket.id, comments: ticket.comments.length };
    },

    assignTeam({ ticket_id, team }) {
      const ticket = open(ticket_id, 'route it');
      const previous = ticket.assignee;
      ticket.team = team;
      // An assignee from the old team no longer owns the ticket; the new team picks it up.
      if (previous && users.get(previous)?.team !== team) ticket.assignee = null;
      if (ticket.status === 'in_progress' && !ticket.assignee) ticket.status = 'open';
      return { ...summary(ticket), ...(previous && !ticket.assignee ? { note: `unassigned ${previous}, who is not on ${team}` } : {}) };
    },

    close({ ticket_id, resolution }) {
      const ticket = find(ticket_id);
      if (ticket.status === 'closed') throw new DeskError(`${ticket.id} is already closed (resolution: "${ticket.resolution}")`);
      Object.assign(ticket, { status: 'closed', resolution });
      return summary(ticket);
    },

    reopen({ ticket_id, reason }) {
      const ticket = find(ticket_id);
      if (ticket.status !== 'closed') throw new DeskError(`${ticket.id} is not closed (status ${ticket.status}); only closed tickets can be reopened`);
      Object.assign(ticket, { status: 'open', resolution: null });
      ticket.comments.push({ author: 'service-desk-agent', body: `Reopened: ${reason}` });
      return summary(ticket);
    },

    agents({ team } = {}) {
      return state.users.filter((u) => !team || u.team === team).map((u) => ({ ...u, open_tickets: state.tickets.filter((t) => t.assignee === u.id && t.status !== 'closed').length }));
    },

    teams() {
      return structuredClone(state.teams);
    },

    /** Everything, for the verifier: never offered to the model as a tool. */
    snapshot() {
      return structuredClone(state);
    },
  };
}
