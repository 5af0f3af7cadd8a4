import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureGoBinary, GO_BINARIES } from '../cli/go-binaries';

/** A running versitygw (posix backend) on a loopback port, and the environment that points a store at it. */
export interface RunningVersitygw {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** The folder behind the gateway: bucket "b" is folder `${root}/b`, object "k/x" the file `${root}/b/k/x`. */
  root: string;
  /** Creates a bucket through the S3 API (CreateBucket), as an operator would. */
  createBucket(name: string): Promise<void>;
  /** HARNESSX_STORE and AWS_* for s3://bucket/prefix on this gateway. */
  env(bucket: string, prefix?: string): Record<string, string>;
  /** Kills the gateway (as a crash would), keeping its folder: requests are refused until restart(). */
  halt(): Promise<void>;
  /** Starts it again on the same port, keys and folder (an outage's end); resolves once it answers. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** versitygw's binary: VERSITYGW_PATH, else the project's cached build, else built once from the Go module proxy. */
export function versitygwBinary(): Promise<string> {
  return ensureGoBinary(GO_BINARIES.versitygw);
}

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}

/**
 * Starts versitygw with the posix backend over a fresh temp folder, on a free loopback port, with its own
 * access key and secret. Resolves once it answers HTTP; stop() kills it and removes the folder.
 */
export async function startVersitygw(binary?: string): Promise<RunningVersitygw> {
  const path = binary ?? (await versitygwBinary());
  // A released port may be taken before versitygw binds it: then try fresh ports, twice more.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(path);
    } catch (e) {
      if (attempt >= 3 || !/address already in use|exited/.test((e as Error).message)) throw e;
    }
  }
}

async function startOnce(binary: string): Promise<RunningVersitygw> {
  const port = await freePort();
  const root = mkdtempSync(join(tmpdir(), 'hx-versitygw-'));
  const accessKeyId = `hxtest${Math.random().toString(36).slice(2, 10)}`;
  const secretAccessKey = `secret-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
  const endpoint = `http://127.0.0.1:${port}`;
  /** Starts the gateway on `port` over `root` and resolves once it answers HTTP (again, after halt()). */
  const launch = async (): Promise<ChildProcess> => {
    const child: ChildProcess = spawn(binary, ['--access', accessKeyId, '--secret', secretAccessKey, '--port', `127.0.0.1:${port}`, 'posix', root], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (c: Buffer) => (output = (output + c.toString()).slice(-8000));
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`versitygw exited (code ${code}) before answering:\n${output}`))));
    exited.catch(() => undefined);
    const deadline = Date.now() + 30_000;
    for (;;) {
      const up = await Promise.race([fetch(endpoint).then(() => true, () => false), exited]).catch((e: Error) => {
        throw e;
      });
      if (up) break;
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`versitygw did not answer on ${endpoint} within 30 s:\n${output}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    return child;
  };
  const halt = async (c: ChildProcess, signal: NodeJS.Signals) => {
    if (c.exitCode !== null || c.signalCode !== null) return;
    const gone = new Promise((r) => c.once('exit', r));
    c.kill(signal);
    const timer = setTimeout(() => c.kill('SIGKILL'), 5_000);
    await gone;
    clearTimeout(timer);
  };
  let child = await launch();
  return {
    endpoint,
    accessKeyId,
    secretAccessKey,
    root,
    createBucket: async (name) => {
      const client = new S3Client({ region: 'us-east-1', endpoint, forcePathStyle: true, credentials: { accessKeyId, secretAccessKey } });
      try {
        await client.send(new CreateBucketCommand({ Bucket: name }));
      } finally {
        client.destroy();
      }
    },
    env: (bucket, prefix = '') => ({
      HARNESSX_STORE: `s3://${bucket}${prefix ? `/${prefix}` : ''}`,
      AWS_ENDPOINT_URL_S3: endpoint,
      AWS_ACCESS_KEY_ID: accessKeyId,
      AWS_SECRET_ACCESS_KEY: secretAccessKey,
      AWS_REGION: 'us-east-1',
    }),
    halt: () => halt(child, 'SIGKILL'),
    restart: async () => {
      await halt(child, 'SIGKILL');
      child = await launch();
    },
    stop: async () => {
      await halt(child, 'SIGTERM');
      rmSync(root, { recursive: true, force: true });
    },
  };
}
