import { ensureTemporalCli } from '../../cli/temporal-cli';

/** Integration suites need the real Temporal CLI: find it or build it once, before any suite starts. */
export default async function globalSetup(): Promise<void> {
  process.env.HARNESSX_TEMPORAL_CLI = await ensureTemporalCli((line) => process.stderr.write(`${line}\n`));
}
