import { ensureBubblewrap } from '../helpers/bubblewrap';

/** Unit suites run task code (HumanEval) in the bubblewrap box: find or install bwrap once, before any suite. */
export default async function globalSetup(): Promise<void> {
  ensureBubblewrap((line) => process.stderr.write(`${line}\n`));
}
