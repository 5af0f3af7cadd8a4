// Types for desk.mjs (the desk's rules without MCP).
import type { DeskState, DeskTicket } from './verify.mjs';

export const PRIORITIES: string[];
export const STATUSES: string[];
export const SETTABLE_STATUSES: string[];
export const TEAMS: string[];
export class DeskError extends Error {}
export function loadSeed(): DeskState;
export function canonicalTicketId(raw: unknown): string;
export function createDesk(seed?: DeskState): {
  search(args: Record<string, unknown>): { count: number; tickets: Array<Partial<DeskTicket>> };
  get(id: string): DeskTicket;
  create(args: Record<string, unknown>): DeskTicket;
  update(args: Record<string, unknown>): Partial<DeskTicket>;
  comment(args: Record<string, unknown>): { id: string; comments: number };
  assignTeam(args: Record<string, unknown>): Partial<DeskTicket> & { note?: string };
  close(args: Record<string, unknown>): Partial<DeskTicket>;
  reopen(args: Record<string, unknown>): Partial<DeskTicket>;
  agents(args?: { team?: string }): Array<{ id: string; name: string; team: string; open_tickets: number }>;
  teams(): DeskState['teams'];
  snapshot(): DeskState;
};
