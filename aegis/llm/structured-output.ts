/**
 * Structured model calls live in harness/structured-output.ts, the lowest layer, because benchmarks use them
 * too (tau2-retail's LLM judge) and benchmarks may not import aegis/. Re-exported here for the meta-agents.
 */
export * from '../../harness/structured-output';
