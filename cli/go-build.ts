import { spawn } from 'node:child_process';

/**
 * Runs one Go command of a binary build (go install, go get, go build), reporting progress every `tickMs`
 * (cold builds take minutes) and keeping the output's last 4000 characters for the error when it fails.
 */
export function runGoStep(options: { args: string[]; cwd?: string; env: NodeJS.ProcessEnv; what: string; log: (line: string) => void; tickMs: number }): Promise<void> {
  const started = Date.now();
  return new Promise((resolvePromise, reject) => {
    const child = spawn('go', options.args, { ...(options.cwd ? { cwd: options.cwd } : {}), env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let tail = '';
    let downloads = 0;
    const ticker = setInterval(() => options.log(`  … ${options.what}: ${Math.round((Date.now() - started) / 1000)} s, ${downloads} modules downloaded`), options.tickMs);
    const onData = (chunk: Buffer) => {
      const text = chunk.toString();
      tail = (tail + text).slice(-4000);
      downloads += (text.match(/go: downloading/g) ?? []).length;
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (e) => {
      clearInterval(ticker);
      reject(e);
    });
    child.on('close', (code) => {
      clearInterval(ticker);
      if (code === 0) resolvePromise();
      else reject(new Error(`go ${options.args.join(' ')} failed (exit ${code}):\n${tail}`));
    });
  });
}
