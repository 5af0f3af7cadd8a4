import { ensureDevServer } from '../dev-server';
import type { Commands } from '../options';

export const commands: Commands = {
  /** Starts the Temporal dev server in the foreground (SQLite, Web UI on :8233), or reuses a running one. */
  server: async () => {
    await ensureDevServer((l) => console.log(l), { foreground: true });
  },
};
