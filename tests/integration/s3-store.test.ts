import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createCoevolutionActivities, trainJobDir } from '../../activities/coevolution';
import { emptyBuffer } from '../../coevolution/replay-buffer';
import { canonicalJson, sha256Hex } from '../../harness/canonical';
import { checkStore, openStore } from '../../store/open-store';
import { S3Store } from '../../store/s3-store';
import type { Store } from '../../store/store';
import type { RunSummary } from '../../workflows/evolve-harness';
import { storeContract, StoreFixture } from '../helpers/store-contract';
import { RunningVersitygw, startVersitygw } from '../helpers/versitygw';
import { startDevServer, tempDataDir } from './temporal-env';
import { killAll, spawnWorker } from './worker-process';

// A guard against hangs on a busy 2-core machine, not a timing assertion.
jest.setTimeout(300_000);

const ROOT = join(__dirname, '../..');
let gw: RunningVersitygw;
let raw: S3Client;
const BUCKET = 'hx-contract';

beforeAll(async () => {
  gw = await startVersitygw();
  await gw.createBucket(BUCKET);
  raw = new S3Client({ region: 'us-east-1', endpoint: gw.endpoint, forcePathStyle: true, credentials: { accessKeyId: gw.accessKeyId, secretAccessKey: gw.secretAccessKey } });
});
afterAll(async () => {
  raw?.destroy();
  await gw?.stop();
});

let fixtures = 0;
/** A fresh prefix of the bucket per test; the raw client damages objects behind the store's back. */
async function s3Fixture(): Promise<StoreFixture> {
  const prefix = `contract-${++fixtures}`;
  const env = gw.env(BUCKET, prefix);
  const put = (key: string, bytes: Buffer) => raw.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${prefix}/${key}`, Body: bytes })).then(() => undefined);
  return {
    open: () => openStore({ defaultDir: tempDataDir(), env }),
    replaceBlobBytes: (ref, bytes) => {
      const hex = ref.slice('sha256:'.length);
      return put(`artifacts/${hex.slice(0, 2)}/${hex}.json.gz`, bytes);
    },
    writeRawCacheEntry: (namespace, key, bytes) => put(`cache/${namespace}/${sha256Hex(canonicalJson(key))}.json`, bytes),
    blobCount: async () => (await raw.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `${prefix}/artifacts/` }))).KeyCount ?? 0,
  };
}

storeContract('S3 (versitygw)', s3Fixture, 60_000);

test('a training job keeps its working folder on the worker and its result and checkpoint registry in the bucket: never relaunched', async () => {
  const store = openStore({ defaultDir: tempDataDir(), env: gw.env(BUCKET, 'train') });
  const work = mkdtempSync(join(tmpdir(), 'hx-s3-train-'));
  const counter = join(work, 'launches.txt');
  process.env.HARNESSX_WORK_DIR = work;
  process.env.HARNESSX_TRAINER_COMMAND = `node -e "const fs=require('fs');fs.appendFileSync('${counter}','x');fs.writeFileSync(process.env.HARNESSX_TRAIN_OUT+'/checkpoint.json',JSON.stringify({id:'ft-1',model:'openai-compatible:ft-1@http://127.0.0.1:9/v1'}))"`;
  try {
    const base = { id: 'base', model: 'openai-compatible:base@http://127.0.0.1:9/v1' };
    const input = { runId: 'r-s3', bufferRef: await store.put(emptyBuffer(10)), checkpoint: base, reference: base, iteration: 1, benchmark: 'blocksworld' };
    const first = await createCoevolutionActivities(store).trainStep(input);
    // Another "host" (a fresh store object, no state in memory) finds the job done in the bucket.
    const again = await createCoevolutionActivities(openStore({ defaultDir: tempDataDir(), env: gw.env(BUCKET, 'train') })).trainStep(input);
    expect(first.checkpoint).toEqual({ id: 'ft-1', model: 'openai-compatible:ft-1@http://127.0.0.1:9/v1' });
    expect(again.checkpoint).toEqual(first.checkpoint);
    expect(readFileSync(counter, 'utf8')).toBe('x');
    expect(trainJobDir(store, 'r-s3', 1)).toBe(join(work, 'runs', 'r-s3', 'train-1'));
    expect(existsSync(join(work, 'runs', 'r-s3', 'train-1', 'grpo.trl.jsonl'))).toBe(true);
    expect(await store.readRunFile('r-s3', 'checkpoints.json')).toEqual([{ ...first.checkpoint, iteration: 1 }]);
    expect(await store.readRunFile('r-s3', 'train-1/done.json')).toMatchObject({ checkpoint: first.checkpoint, relaunched: false });
  } finally {
    delete process.env.HARNESSX_TRAINER_COMMAND;
    delete process.env.HARNESSX_WORK_DIR;
  }
});

describe('S3 store: bad settings are named at once', () => {
  const messageOf = async (store: Store) => checkStore(store).then(() => null, (e: Error) => e.message);

  test('wrong credentials name AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY and quote no secret', async () => {
    const wrongSecret = openStore({ defaultDir: tempDataDir(), env: { ...gw.env(BUCKET), AWS_SECRET_ACCESS_KEY: 'wrong-secret-value' } });
    const message = await messageOf(wrongSecret);
    expect(message).toMatch(/^the S3 endpoint http:\/\/127\.0\.0\.1:\d+ rejected the credentials \(SignatureDoesNotMatch\) to open s3:\/\/hx-contract: check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/);
    expect(message).not.toContain('wrong-secret-value');
    const unknownKey = await messageOf(openStore({ defaultDir: tempDataDir(), env: { ...gw.env(BUCKET), AWS_ACCESS_KEY_ID: 'nosuchkey' } }));
    expect(unknownKey).toMatch(/rejected the credentials \((InvalidAccessKeyId|XAdminUserNotFound|SignatureDoesNotMatch)\).*check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/);
  });

  test('a missing bucket names the bucket and HARNESSX_STORE', async () => {
    expect(await messageOf(openStore({ defaultDir: tempDataDir(), env: gw.env('no-such-bucket', 'x') }))).toMatch(
      /^the bucket "no-such-bucket" does not exist at http:\/\/127\.0\.0\.1:\d+: create it, or point HARNESSX_STORE \(s3:\/\/bucket\/prefix\) at an existing bucket$/,
    );
  });

  test('an unreachable endpoint names AWS_ENDPOINT_URL_S3', async () => {
    const port = await new Promise<number>((resolvePort) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const p = (server.address() as { port: number }).port;
        server.close(() => resolvePort(p));
      });
    });
    const store = openStore({ defaultDir: tempDataDir(), env: { ...gw.env(BUCKET), AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${port}` } });
    expect(await messageOf(store)).toMatch(new RegExp(`^cannot reach the S3 endpoint http://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\) to open s3://hx-contract: check AWS_ENDPOINT_URL_S3 \\(or AWS_ENDPOINT_URL\\)`));
  });

  const harnessx = (args: string[], env: Record<string, string>) =>
    new Promise<{ code: number | null; stderr: string }>((resolveRun) => {
      const child = spawn(process.execPath, [join(ROOT, 'bin/harnessx.js'), ...args], { cwd: ROOT, env: { ...process.env, HARNESSX_DATA_DIR: tempDataDir(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('exit', (code) => resolveRun({ code, stderr }));
    });

  test('`harnessx worker` refuses to start, and `harnessx evolve` to start a run, naming the setting', async () => {
    const worker = await harnessx(['worker'], { ...gw.env(BUCKET), AWS_SECRET_ACCESS_KEY: 'wrong-secret-value' });
    expect(worker.code).toBe(2);
    expect(worker.stderr).toMatch(/artifact store s3:\/\/hx-contract: the S3 endpoint .* rejected the credentials .*check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/);
    expect(worker.stderr).not.toContain('wrong-secret-value');
    const evolve = await harnessx(['evolve', '--suite', 'blocksworld', '--model', 'sim:small', '--rounds', '1'], gw.env('no-such-bucket'));
    expect(evolve.code).toBe(2);
    expect(evolve.stderr).toMatch(/the bucket "no-such-bucket" does not exist .*HARNESSX_STORE/);
    const malformed = await harnessx(['worker'], { HARNESSX_STORE: 's3://Not_A_Bucket' });
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toMatch(/HARNESSX_STORE="s3:\/\/Not_A_Bucket" names no valid bucket/);
  });
});

describe('S3 store end to end: a worker process whose artifacts live only in the bucket', () => {
  let env: TestWorkflowEnvironment;
  const children: ChildProcess[] = [];
  beforeAll(async () => {
    env = await startDevServer();
  });
  afterAll(async () => {
    killAll(children);
    await env?.teardown();
  });

  test('a 1-round evolve run writes its harness, audit log and summary to the bucket, and the CLI reads them from there', async () => {
    await gw.createBucket('hx-e2e');
    const storeEnv = gw.env('hx-e2e', 'team/runs');
    const workerDataDir = tempDataDir();
    await spawnWorker({ address: env.address, dataDir: workerDataDir, env: { ...storeEnv, HARNESSX_TASK_QUEUE: 'it-s3-store' } }, children);
    const workflowId = 'it-s3-evolve';
    const summary = (await env.client.workflow.execute('evolveHarness', {
      taskQueue: 'it-s3-store',
      workflowId,
      args: [{ benchmark: 'blocksworld', model: 'sim:small', rounds: 1, batchSize: 12, validationSize: 8, seed: 'it-s3' }],
    })) as RunSummary & { summaryPath: string };
    expect(summary.rounds).toBe(1);
    expect(summary.summaryPath).toBe(`s3://hx-e2e/team/runs/runs/${workflowId}/files/summary.json`);

    const store = openStore({ defaultDir: tempDataDir(), env: storeEnv });
    expect(store).toBeInstanceOf(S3Store);
    const audit = await store.readAudit(workflowId);
    expect(audit[0].stage).toBe('setup');
    expect(audit[audit.length - 1].stage).toBe('final');
    expect(new Set(audit.map((r) => r.key)).size).toBe(audit.length);
    expect(audit.filter((r) => r.stage === 'ship')).toHaveLength(summary.shipped);
    expect(await store.getHarness(summary.harnessId)).toMatchObject({ model: { main: { model: 'sim:small' } } });
    expect(await store.readRunFile<{ harnessId: string }>(workflowId, 'summary.json')).toMatchObject({ harnessId: summary.harnessId });
    // Nothing went to the worker's local data folder.
    expect(existsSync(workerDataDir) ? readdirSync(workerDataDir) : []).toEqual([]);

    // The CLI on another "host" (its own empty data folder) reads the run from the bucket.
    const history = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolveRun) => {
      const child = spawn(process.execPath, [join(ROOT, 'bin/harnessx.js'), 'history', workflowId], { cwd: ROOT, env: { ...process.env, HARNESSX_DATA_DIR: tempDataDir(), ...storeEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('exit', (code) => resolveRun({ code, stdout, stderr }));
    });
    expect(history.stderr).toBe('');
    expect(history.code).toBe(0);
    // A header line (the columns and the day), then one line per record.
    expect(history.stdout.trim().split('\n')).toHaveLength(audit.length + 1);
    expect(history.stdout).toMatch(/ final +info .*train \d+\.\d% → \d+\.\d%/);
  });
});
