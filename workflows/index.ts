export { evolveHarness, statusQuery, pauseSignal, resumeSignal, stopSignal, setBudgetUpdate, decideUpdate } from './evolve-harness';
export { evaluateHarness } from './evaluate-harness';
export { coevolve, coevolveStatusQuery, trainCheckpoint } from './coevolve';
export { endpointCoordinator, renewEndpointLeasesUpdate, endpointSharesQuery } from './endpoint-coordinator';
export { deployHarness, deploymentRound } from './deployment';
