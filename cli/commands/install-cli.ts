import { connectionSettings } from '../../temporal.config';
import { installedAsDependency } from '../../harness/package-root';
import type { Commands } from '../options';
import { ensureTemporalCli, findTemporalCli } from '../temporal-cli';

export const commands: Commands = {
  /** Finds or builds the Temporal CLI; as npm's postinstall it only warns, so the install still succeeds. */
  'install-cli': async (args) => {
    const postinstall = args.includes('--postinstall');
    // Installed as a dependency (`npm install harnessx` for createAgent), the Temporal CLI is not needed, and
    // building it from the Go module proxy would add minutes to the user's install. Evolution builds it on
    // first use (`harnessx start`, `harnessx install-cli`).
    if (postinstall && installedAsDependency()) {
      console.log('harnessx: installed as a package; run `npx harnessx install-cli` before evolving (createAgent needs no Temporal).');
      return;
    }
    try {
      const found = findTemporalCli();
      if (found) console.log(`Temporal CLI: ${found.path} (from ${found.source})`);
      else if (connectionSettings().external) console.log('TEMPORAL_ADDRESS is set: not building the Temporal CLI.');
      else console.log(`Temporal CLI: ${await ensureTemporalCli()}`);
    } catch (e) {
      if (!postinstall) throw e;
      // npm install must still succeed (a user may point at a cluster); start and tests say what is missing.
      console.warn(`warning: ${(e as Error).message}`);
    }
  },
};
