/**
 * What a benchmark lets the simulator (models/sim) know about one task: plain data, per benchmark.
 *
 * The simulator stands in for a capable model's competence, so it is told the task's solution path (gold
 * steps, the canonical solution, the product to buy) — but it still acts only on what the request shows:
 * each brief carries the text by which the task is recognised in the prompt, and a simulator that does not
 * find it in view is as lost as before. The benchmark writes the brief (Benchmark.simulatorBrief) and the
 * run wiring (aegis/rollout.ts) hands it to the model factory (ModelOptions.taskBrief), so models/ and
 * benchmarks/ never import each other. The contract lives here, in the lowest layer both may import; the few
 * pure text readers both sides need (numbers, blocksworld facts, a page's selection) are kept as a copy on
 * each side instead (models/sim/reading.ts): the simulator's reading of a prompt is its own, not the
 * verifier's, and tests/unit/sim-reading.test.ts checks that the two readings agree.
 *
 * Blocksworld has no brief: its simulator reads goal and state from the prompt alone.
 */
export type SimulatorBrief = Gsm8kBrief | HumanEvalBrief | Tau2RetailBrief | WebShopBrief;

export interface Gsm8kBrief {
  benchmark: 'gsm8k';
  /** Recognised in a user message whose text before `\n\n${instructionSuffix}` is exactly this. */
  question: string;
  instructionSuffix: string;
  /** The gold rationale's calculator steps, in order. */
  steps: Array<{ expression: string; result: number }>;
  answer: number;
}

export interface HumanEvalBrief {
  benchmark: 'humaneval';
  /** The stub (signature and docstring); recognised as the first ```python block of a user message. */
  prompt: string;
  /** The function body that completes the stub correctly. */
  canonicalSolution: string;
  /** The workspace file the solution is written to. */
  file: string;
}

export interface Tau2RetailBrief {
  benchmark: 'tau2-retail';
  /** The customer's opening line; recognised as the last line of the first user message (after "Customer: "). */
  opening: string;
  /** The gold actions, in order. */
  actions: Array<{ name: string; arguments: Record<string, unknown> }>;
  /** Indices of gold actions that fail on purpose (read-only look-ups tau2 records and skips): called once, they count as done. */
  skippedActions?: number[];
  /** Tools that change the database (the policy wants a confirmation before each). */
  writeTools: string[];
}

export interface WebShopBrief {
  benchmark: 'webshop';
  /** The instruction's "I am looking for … dollars." sentence; recognised in the first user message. */
  goalLine: string;
  productName: string;
  /** The options asked for, in the instruction's order. */
  options: Array<{
    name: string;
    value: string;
    /** The option's link label on the product page. */
    label: string;
    /** The label of another value of this option (a plausible wrong click), or null when it has none. */
    otherLabel: string | null;
  }>;
}
