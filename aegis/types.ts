import { z } from 'zod';
import { EditSchema } from '../harness/builder';

export const BUCKETS = ['prompt', 'tools', 'config', 'processor'] as const;
export type Bucket = (typeof BUCKETS)[number];

/**
 * wrong_outcome: the verifier failed the episode and the trace shows none of the other signals (a wrong final
 * answer or state, reached cleanly). Every failed task gets a category, so a model whose mistakes the
 * signals do not recognise still leaves the meta-agent something to work on.
 */
export const FAILURE_CATEGORIES = ['format_error', 'invalid_action', 'loop', 'no_progress', 'transient_tool_error', 'long_context', 'harness_error', 'wrong_outcome'] as const;
export type FailureCategory = (typeof FAILURE_CATEGORIES)[number];

export interface TaskDigest {
  taskId: string;
  passed: boolean;
  successes: number;
  attempts: number;
  /** The dominant failure over the task's failed attempts; null when every attempt passed. */
  category: FailureCategory | null;
  /** Other categories the failed attempts also show, strongest first (multi-label; never repeats category). */
  secondary?: FailureCategory[];
  categoryCounts: Partial<Record<FailureCategory, number>>;
  /** Component ids (processor ids, or "missing:<type>") the evidence points at. */
  implicated: string[];
  evidence: string[];
  /** The LLM Digester's failure summary, when an LLM meta-agent digested the round. */
  summary?: string;
  /** The task's own statement: its instruction without the preamble every task of the round shares (Digest.sharedPreamble). */
  goal?: string;
  /** Outcome per round this task was seen in, oldest first. */
  history: Array<{ round: number; passed: boolean; category: FailureCategory | null }>;
}

export interface Digest {
  round: number;
  harnessId: string;
  tasks: TaskDigest[];
  /** Share of tasks failing for a category the meta-agent can act on. */
  actionability: number;
  traceTokens: number;
  digestTokens: number;
  /** The text every task's instruction of the round starts with (a benchmark's rules or policy), shown once per request. */
  sharedPreamble?: string;
}

export interface Remedy {
  category: FailureCategory;
  bucket: Bucket;
  edits: z.infer<typeof EditSchema>[];
  key: string;
  rationale: string;
  /** From an LLM Planner: the change to make, for the Evolver to write (edits is empty then). */
  direction?: string;
  /**
   * Set on the rules Planner's exploration options (valid single edits outside the catalogue's remedies for
   * the digest's categories): the failing tasks the edit is aimed at, which its manifest claims.
   */
  exploration?: { aimedAt: string[] };
}

export interface Landscape {
  round: number;
  harnessId: string;
  failingTasks: Array<{ taskId: string; category: FailureCategory | null }>;
  categories: Array<{ category: FailureCategory; tasks: string[] }>;
  implicatedComponents: string[];
  editsTried: Array<{ key: string; outcome: string }>;
  untriedBuckets: Bucket[];
  /** Applicable, untried remedies, most promising first. */
  options: Remedy[];
  solvedTasks: string[];
  unstableTasks: string[];
}

export const ManifestSchema = z.object({
  candidateId: z.string().min(1),
  bucket: z.enum(BUCKETS),
  capabilityEvidence: z.array(z.string().min(1)).min(1, 'at least one piece of trace evidence'),
  changes: z.array(EditSchema).min(1, 'at least one change'),
  predictedImpact: z.object({
    tasksWillUnlock: z.array(z.string()),
    stabilize: z.array(z.string()),
    atRisk: z.array(z.string()),
  }),
  attributionSignature: z.string().min(1),
});
export type Manifest = z.infer<typeof ManifestSchema>;

export interface Candidate {
  candidateId: string;
  harnessId: string;
  editKey: string;
  bucket: Bucket;
  manifest: Manifest;
  /** The gate's rollout-free checks on it, where the Evolver ran them (the Critic is told): "passed" or the first failure. */
  preGate?: string;
}

export type Critique = { decision: 'no_op'; reason: string } | { decision: 'ship_ranking'; ranking: string[]; notes: string[] };

/** The gate's checks, in the order it runs them; the first failure rejects the candidate. */
export const GATE_CHECKS = ['manifest_complete', 'canonical_form', 'reward_hacking', 'code_sandbox', 'smoke_test', 'seesaw'] as const;
export type GateCheck = (typeof GATE_CHECKS)[number];
export interface GateCheckResult {
  check: GateCheck;
  passed: boolean;
  detail: string;
}
export interface GateResult {
  candidateId: string;
  passed: boolean;
  checks: GateCheckResult[];
  /** The first failing check's reason, when rejected. */
  reason: string | null;
  incumbentPassed: number;
  candidatePassed: number;
  gateTasks: number;
  regressions: string[];
  unlocked: string[];
}

export interface AuditRecord {
  /** Idempotency key: an append with an existing key is a no-op, so retried activities never duplicate. */
  key: string;
  runId: string;
  round: number;
  stage: 'setup' | 'rollout' | 'digest' | 'plan' | 'evolve' | 'critique' | 'gate' | 'ship' | 'round_end' | 'regression' | 'final';
  kind: 'commit' | 'rollback' | 'info';
  candidateId?: string;
  harnessId?: string;
  payload: Record<string, unknown>;
  evidenceRefs: string[];
  ts: string;
}

/** The run's gate parameters as the Evolver and Critic are told them (see gateMechanics in llm/prompts). */
export interface GateTerms {
  minGain: number;
  /** Attempts per task (pass@k). */
  k: number;
  batchTasks: number;
  validationTasks: number;
  /** Validation tasks a candidate must gain to ship (the gate's rule on unseen tasks); absent in terms recorded before it. */
  minUnseenGain?: number;
  mode?: 'seesaw' | 'statistical';
  repeats?: number;
  tCritical?: number;
}
