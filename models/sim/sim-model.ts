import { hashUniform, sha256Hex } from '../../harness/canonical';
import type { Model } from '../../harness/processor';
import type { SimulatorBrief } from '../../harness/task-brief';
import type { ModelRequest, ModelResponse, ToolCall } from '../../harness/types';
import type { ModelProvider } from '../types';
import { ContextSignals, contextSignals, effectiveRates, SIM_PROFILES, SimProfile } from './profile';
import { phraseFor } from './reading';
import * as blocks from './skills/blocksworld';
import { applyTheta, formatSimModel, parseSimName, POLICY_KINDS, PolicyKind, SimDecision, Theta, ZERO_THETA } from './policy';
import * as gsm8k from './skills/gsm8k';
import * as humaneval from './skills/humaneval';
import * as tau2 from './skills/tau2-retail';
import * as webshop from './skills/webshop';
import type { SkillDecision } from './skills/types';

type SkillDecide = (request: ModelRequest, signals: ContextSignals, rates: SimProfile, u: (kind: string) => number, brief?: SimulatorBrief) => SkillDecision;

/**
 * The HarnessX simulator: a seeded stand-in for an LLM, for offline runs and tests. It is not a model
 * result. It reads only the request (messages and attached parts) and its competence depends on that
 * context the way an LLM's does: unlisted admissible actions mean more invalid actions, no reminder of
 * visited states means loops, no format help means broken output, no plan means lost sub-goals. What it
 * knows about its task beyond the prompt (the solution path a capable model would find) comes from the
 * benchmark's brief, given at creation (ModelOptions.taskBrief); without one it can play only blocksworld.
 */
export class SimModel implements Model {
  readonly id: string;
  constructor(
    readonly size: string,
    private readonly profile: SimProfile,
    private readonly seed: string,
    private readonly theta: Theta = { ...ZERO_THETA },
    /** Report policy decisions in responses (co-evolution needs them; plain runs keep traces small). */
    private readonly recordPolicy = false,
    private readonly brief?: SimulatorBrief,
  ) {
    this.id = formatSimModel(size, theta);
  }

  /** Rates under this checkpoint, and a recorder of the policy decisions drawn while answering. */
  private policy(draws: Array<[string, number]>, base: SimProfile) {
    const rates = applyTheta(base, this.theta);
    const decisions = (): SimDecision[] =>
      draws.filter(([k]) => (POLICY_KINDS as readonly string[]).includes(k)).map(([k, v]) => ({ k: k as PolicyKind, b: base[k as PolicyKind], h: v < rates[k as PolicyKind] }));
    return { rates, decisions };
  }

  async generate(request: ModelRequest): Promise<ModelResponse> {
    const inputTokens = estimateTokens(request);
    // Every uniform draw of this call, so the policy decisions among them can be reported with the reply.
    const draws: Array<[string, number]> = [];
    let decisions: () => SimDecision[] = () => [];
    const reply = (text: string, toolCalls: ToolCall[] = []): ModelResponse => {
      const made = decisions();
      return {
        text,
        toolCalls,
        usage: { inputTokens, outputTokens: Math.max(1, Math.ceil((text.length + JSON.stringify(toolCalls).length) / 4)) },
        stopReason: toolCalls.length ? 'tool_use' : 'end_turn',
        model: this.id,
        ...(made.length ? { meta: { simDecisions: made } } : {}),
      };
    };
    // Draws are kept only when the policy is recorded: plain rollouts pay nothing for co-evolution.
    const track = (u: (kind: string) => number) =>
      this.recordPolicy
        ? (kind: string) => {
            const v = u(kind);
            draws.push([kind, v]);
            return v;
          }
        : u;
    const skill = (decide: SkillDecide) => {
      const signals = contextSignals(request);
      const policy = this.policy(draws, effectiveRates(this.profile, signals));
      decisions = policy.decisions;
      return this.skill(request, reply, decide, signals, policy.rates, track);
    };
    if (gsm8k.matches(request)) return skill(gsm8k.decideGsm8k);
    if (humaneval.matches(request)) return skill(humaneval.decideHumanEval);
    if (tau2.matches(request)) return skill(tau2.decideTau2);
    if (webshop.matches(request)) return skill(webshop.decideWebShop);
    if (!blocks.matches(request)) return reply('I cannot tell what task this is from the conversation.');
    const beliefs = blocks.readBeliefs(request);
    if (!beliefs) return reply('I have lost track of the goal; the task statement is no longer in view.');
    const turn = request.messages.filter((m) => m.role === 'assistant').length;
    const stateKey = sha256Hex(JSON.stringify([[...beliefs.clear].sort(), [...beliefs.on].sort(), beliefs.holding])).slice(0, 12);
    const u = track((kind: string) => hashUniform(this.seed, request.purpose, turn, stateKey, kind));

    if (request.purpose === 'plan') {
      const plan = corruptPlan(blocks.fullPlan(beliefs), this.profile.planError, u);
      return reply(`[PLAN]\n${plan.map((m) => phraseFor(m.name, m.args)).join('\n')}\n[PLAN END]`);
    }

    const signals = contextSignals(request);
    const policy = this.policy(draws, effectiveRates(this.profile, signals));
    decisions = policy.decisions;
    const rates = policy.rates;
    const move = this.chooseMove(beliefs, signals, rates, request, u);
    if (!move) return reply('The goal already holds; there is nothing left to do.');

    const id = `call_${sha256Hex(`${this.seed}|${turn}|${stateKey}|${request.messages.length}`).slice(0, 12)}`;
    if (u('format') < rates.format) {
      // A format slip: the action as prose, or a tool call with arguments in the wrong shape.
      if (u('format-kind') < 0.6) return reply(`I will ${phraseFor(move.name, move.args)}.`);
      const args: Record<string, unknown> =
        'target' in move.args ? { block: `the ${move.args.block} block`, onto: move.args.target } : { block: `the ${move.args.block} block` };
      return reply('', [{ id, name: move.name, args }]);
    }
    return reply('', [{ id, name: move.name, args: { ...move.args } }]);
  }

  /** A skill that decides one turn from the request: a tool call, prose, a plan, or being lost. */
  private skill(
    request: ModelRequest,
    reply: (text: string, toolCalls?: ToolCall[]) => ModelResponse,
    decide: SkillDecide,
    signals: ContextSignals,
    rates: SimProfile,
    track: (u: (kind: string) => number) => (kind: string) => number,
  ): ModelResponse {
    const turn = request.messages.filter((m) => m.role === 'assistant').length;
    const u = track((kind: string) => hashUniform(this.seed, request.purpose, turn, request.messages.length, kind));
    const decision = decide(request, signals, rates, u, this.brief);
    switch (decision.kind) {
      case 'plan':
        return reply(`[PLAN]\n${decision.lines.join('\n')}\n[PLAN END]`);
      case 'prose':
      case 'lost':
        return reply(decision.text);
      case 'call':
        return reply('', [{ id: `call_${sha256Hex(`${this.seed}|${turn}|${request.messages.length}`).slice(0, 12)}`, ...decision.call }]);
    }
  }

  private chooseMove(
    b: blocks.Beliefs,
    signals: ContextSignals,
    rates: SimProfile,
    request: ModelRequest,
    u: (kind: string) => number,
  ): blocks.Move | null {
    let intended = blocks.bestMove(b);
    const planned = signals.plan?.steps[signals.plan.next];
    const plannedMove = planned ? blocks.toMove(planned) : null;
    if (plannedMove && blocks.applicable(b, plannedMove)) intended = plannedMove;
    if (!intended) return null;

    const legal = blocks.allMoves(b).filter((m) => blocks.applicable(b, m));
    const pick = (list: blocks.Move[], kind: string) => list[Math.floor(u(kind) * list.length) % list.length];

    const last = blocks.lastSuccessfulMove(request);
    if (last && u('loop') < rates.loop) {
      const undo = blocks.inverse(last);
      if (blocks.applicable(b, undo)) return undo;
    }
    if (u('invalid') < rates.invalid) {
      const illegal = blocks.allMoves(b).filter((m) => !blocks.applicable(b, m) && m.name !== 'put_down');
      if (illegal.length) return pick(illegal, 'invalid-pick');
    }
    if (u('subgoal') < rates.subgoal) {
      const others = legal.filter((m) => JSON.stringify(m) !== JSON.stringify(intended));
      if (others.length) return pick(others, 'subgoal-pick');
    }
    return intended;
  }
}

function corruptPlan(plan: blocks.Move[], rate: number, u: (kind: string) => number): blocks.Move[] {
  if (plan.length < 2 || u('plan-error') >= rate) return plan;
  const out = [...plan];
  const i = Math.floor(u('plan-error-at') * (out.length - 1));
  if (u('plan-error-kind') < 0.5) [out[i], out[i + 1]] = [out[i + 1], out[i]];
  else out.splice(i, 1);
  return out;
}

function estimateTokens(request: ModelRequest): number {
  const chars = request.messages.reduce((n, m) => n + m.content.length, 0) + request.parts.reduce((n, p) => n + p.text.length, 0);
  return Math.ceil(chars / 4) + 50 * request.tools.length;
}

export const simProvider: ModelProvider = {
  name: 'sim',
  create(modelName, { seed, recordPolicy, taskBrief }) {
    const { size, theta } = parseSimName(modelName);
    const profile = SIM_PROFILES[size];
    if (!profile) throw new Error(`unknown simulator size "${size}"; use sim:small or sim:large`);
    return new SimModel(size, profile, seed, theta, !!recordPolicy, taskBrief);
  },
};
