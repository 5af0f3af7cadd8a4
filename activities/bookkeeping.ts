import { ApplicationFailure } from '@temporalio/activity';
import { verifyCodeProcessors } from '../aegis/gate';
import { forkVariant, Variant } from '../aegis/variants';
import type { AuditRecord } from '../aegis/types';
import { getBenchmark } from '../benchmarks/registry';
import { sampleIds } from '../benchmarks/split';
import { internalCheckError } from '../harness/check-boundary';
import { HarnessConfig, HarnessConfigError, parseHarnessConfig } from '../harness/config';
import { capProblems, MAX_PROBLEMS } from '../harness/sandbox/input-bounds';
import { seedHarness } from '../harness/seed';
import { priceOf, priceTable } from '../models/prices';
import { checkModelString } from '../models/registry';
import { faultPoint } from './boundary';
import { clusterOfTask } from './rollouts';
import type { ActivityServices } from './services';

/** What prepareRun needs of the run's input (the workflow's schema has already checked the shapes). */
export interface RunSetupInput {
  benchmark: string;
  model: string;
  metaAgent?: string;
  seedHarness?: Record<string, unknown>;
  validationSize: number;
  seed: string;
  maxUsd?: number;
}

/**
 * The run's seed harness, and every problem with the input the workflow's schema cannot see (model strings,
 * prices for a USD budget, the seed harness's config), each naming its field.
 */
export function checkRunSetup(input: RunSetupInput): { config: HarnessConfig; problems: string[] } {
  const problems: string[] = [];
  const modelProblem = checkModelString(input.model);
  if (modelProblem) problems.push(`model: ${modelProblem}`);
  const metaProblem = input.metaAgent && input.metaAgent !== 'rules' ? checkModelString(input.metaAgent) : null;
  if (metaProblem) problems.push(`metaAgent: ${metaProblem}`);
  if (input.maxUsd !== undefined && !priceOf(input.model, priceTable()))
    problems.push(`maxUsd: "${input.model}" has no price; add it to HARNESSX_PRICES on the workers, or budget in maxTokens`);
  let config = seedHarness(input.model);
  if (input.seedHarness) {
    try {
      config = parseHarnessConfig({ ...input.seedHarness, model: input.seedHarness.model ?? { main: { model: input.model } } });
    } catch (e) {
      // Anything else the seed's content provokes is a problem with the input too, never a retried activity.
      if (e instanceof HarnessConfigError) problems.push(...e.issues.map((i) => `seedHarness.${i}`));
      else problems.push(`seedHarness: ${internalCheckError(e)}`);
    }
  }
  return { config, problems };
}

/** A run's setup and records: its input checked and tasks split, the audit trail, the summary, the variant pool. */
export function createBookkeepingActivities(services: ActivityServices) {
  const { store } = services;
  return {
    /**
     * Validates what the workflow's schema cannot (harness config, model, and the seed harness's code
     * processors, checked as the gate checks evolved code), stores the seed harness, splits tasks.
     */
    async prepareRun(input: RunSetupInput) {
      const { config, problems } = checkRunSetup(input);
      const benchmark = getBenchmark(input.benchmark);
      if (!problems.length) {
        const code = await verifyCodeProcessors(config, benchmark);
        if (!code.passed) problems.push(...code.problems.map((p) => `seedHarness.hooks.${p.hook}.${p.processorId}: ${p.stage}: ${p.reason}`));
      }
      if (problems.length) {
        // One over capProblems' own cap: a list capped already (the harness config's, its count line last) passes whole.
        const shown = capProblems(problems, MAX_PROBLEMS + 1);
        throw ApplicationFailure.nonRetryable(`invalid evolveHarness input:\n${shown.map((p) => `  - ${p}`).join('\n')}`, 'InvalidInput', { problems: shown });
      }
      const tasks = benchmark.tasks();
      const ids = (split: string) => tasks.filter((t) => t.split === split).map((t) => t.id);
      return {
        seedHarnessId: await store.putHarness(config),
        trainIds: ids('train'),
        validationIds: sampleIds(ids('validation'), input.validationSize, input.seed, 'validation'),
        testIds: ids('test'),
      };
    },

    async recordAudit(record: Omit<AuditRecord, 'ts'>): Promise<boolean> {
      if (record.stage === 'ship') await faultPoint(store, 'ship');
      return store.appendAudit({ ...record, ts: new Date().toISOString() });
    },

    async writeSummary(input: { runId: string; summary: Record<string, unknown> }) {
      return { path: await store.writeRunFile(input.runId, 'summary.json', JSON.stringify(input.summary, null, 2) + '\n') };
    },

    /** Forks a candidate into a new variant (retiring the worst when the pool is full). */
    async forkVariant(input: { benchmark: string; variants: Variant[]; parentId: string; harnessId: string; round: number; unlocked: string[]; regressions: string[]; maxVariants: number }) {
      return forkVariant(input.variants, input, clusterOfTask(input.benchmark), input.maxVariants);
    },
  };
}
