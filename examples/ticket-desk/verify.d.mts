// Types for verify.mjs, so a TypeScript harnessx.config.ts can import the verifier.

/** One finished episode as HarnessX hands it to a verifier (EpisodeRecord in the harnessx package). */
export interface EpisodeRecord {
  suite: string;
  task: { id: string; instruction: string; metadata?: Record<string, unknown>; reference?: Array<{ name: string; args: Record<string, unknown> }>; referenceAnswer?: string };
  toolCalls: Array<{ name: string; args: Record<string, unknown>; ok: boolean; output: string }>;
  answer: string | null;
  dialogue: Array<{ agent: string; user: string }>;
  state: unknown;
}

export interface DeskScore {
  score: number;
  breakdown: { checks: Record<string, boolean>; passed: number; total: number; collateral: string[]; answer?: string } | { state: 'missing' };
  reason: string;
}

export function verify(record: EpisodeRecord): DeskScore;
export function checkTaskMetadata<T extends { id: string; metadata?: Record<string, unknown> }>(task: T): T;
export function deskStateOf(state: unknown): DeskState | null;
export function normalize(text: unknown): string;

export interface DeskTicket {
  id: string;
  title: string;
  description: string;
  requester: string;
  status: 'open' | 'in_progress' | 'waiting_on_user' | 'closed';
  priority: 'low' | 'normal' | 'high' | 'urgent';
  team: string;
  assignee: string | null;
  resolution: string | null;
  comments: Array<{ author: string; body: string }>;
}

export interface DeskState {
  teams: Array<{ id: string; name: string; handles: string }>;
  users: Array<{ id: string; name: string; team: string }>;
  tickets: DeskTicket[];
}
