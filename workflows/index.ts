export { evolveHarness, statusQuery, pauseSignal, resumeSignal, stopSignal } from './evolve-harness';
