import type { Model } from '../../harness/processor';

/** The task's user scenario, in tau2-bench's format. */
export interface UserScenario {
  reason_for_call: string;
  known_info?: string | null;
  unknown_info?: string | null;
  task_instructions?: string | null;
}

export const STOP_TOKENS = ['###STOP###', '###TRANSFER###', '###OUT-OF-SCOPE###'];

/** "You are Yusuf Rossi in zip code 19122." → "I am Yusuf Rossi in zip code 19122." */
export function firstPerson(text: string): string {
  return text
    .replace(/\bYou are\b/g, 'I am')
    .replace(/\byou are\b/g, 'I am')
    .replace(/\bYour\b/g, 'My')
    .replace(/\byour\b/g, 'my')
    .replace(/\bYou\b/g, 'I')
    .replace(/\byou\b/g, 'me');
}

/** The scripted user's opening line: the reason for the call, in the first person (the simulator keys on it). */
export function openingLine(s: UserScenario): string {
  return `Hi! ${firstPerson(s.reason_for_call)}`;
}

/**
 * The deterministic user for offline runs: it answers identification questions with what it knows,
 * confirms proposed actions, ends the call (###STOP###) when the agent says the request is done or asks
 * whether there is anything else, and gives up after four replies that do not move it forward. It decides
 * by its script from what the agent says, never by looking at the database: a user that stopped exactly
 * when the database matched the gold one would tell the agent when it had succeeded.
 */
const AGENT_SAYS_DONE = /\banything else\b|\b(?:all|is|are|has been|have been) (?:done|set|taken care of|complete|completed)\b|\bsuccessfully\b/i;

export class ScriptedUser {
  private unhelpful = 0;
  constructor(private readonly scenario: UserScenario) {}

  reply(agentText: string): string {
    if (AGENT_SAYS_DONE.test(agentText)) return 'No, that is everything I needed. Thank you! ###STOP###';
    if (/e-?mail|name|zip|user id|identif|verify|authenticat/i.test(agentText) && this.scenario.known_info) return firstPerson(this.scenario.known_info);
    if (/confirm|proceed|shall i|should i|would you like|do you want|go ahead|\(yes\)/i.test(agentText)) return 'Yes, please go ahead.';
    if (++this.unhelpful >= 4) return 'This is not getting anywhere. ###STOP###';
    return `As I said: ${firstPerson(this.scenario.reason_for_call)}`;
  }
}

/**
 * The LLM-driven user (when a user model is configured): the tau2 guidelines plus the scenario as the
 * system prompt, the conversation so far with roles swapped (the agent's messages are the "user" turns).
 */
export class LlmUser {
  private readonly turns: Array<{ role: 'user' | 'assistant'; content: string }> = [];
  constructor(private readonly model: Model, private readonly guidelines: string, private readonly scenario: UserScenario, opening: string) {
    this.turns.push({ role: 'assistant', content: opening });
  }
  async reply(agentText: string): Promise<string> {
    this.turns.push({ role: 'user', content: agentText });
    const system = `${this.guidelines}\n\n## Your scenario\n${JSON.stringify(this.scenario, null, 2)}`;
    const r = await this.model.generate({ purpose: 'summarize', messages: [{ role: 'system', content: system }, ...this.turns], parts: [], tools: [], temperature: 0 });
    const text = r.text.trim() || '###STOP###';
    this.turns.push({ role: 'assistant', content: text });
    return text;
  }
}
