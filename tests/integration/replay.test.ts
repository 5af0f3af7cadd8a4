import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';

jest.setTimeout(120_000);

/**
 * Histories of real runs, recorded with `harnessx replay <id> --save`. A workflow change that would break
 * running workflows fails here (use patched() for an intended change, then record a new history).
 */
const DIR = join(__dirname, '../replay-histories');
const files = readdirSync(DIR).filter((f) => f.endsWith('.json'));
/** The workflow id a history was recorded under, where the code derives ids from it (a deployment's round child). */
const WORKFLOW_IDS: Record<string, string> = { 'deploy-round-child-started.json': 'deploy-it-rounds' };
const load = (file: string) => JSON.parse(readFileSync(join(DIR, file), 'utf8')) as { events: Array<Record<string, unknown>> };

beforeAll(() => {
  try {
    Runtime.install({ logger: new DefaultLogger('ERROR') });
  } catch {
    /* installed by another suite in this process */
  }
});

it('has committed histories to replay', () => {
  expect(files.length).toBeGreaterThanOrEqual(1);
});

it.each(files)('%s replays deterministically against the current workflow code', async (file) => {
  await Worker.runReplayHistory({ workflowsPath: require.resolve('../../workflows') }, historyFromJSON(load(file)), WORKFLOW_IDS[file] ?? file);
});

it('detects a history the current code would not produce (the check can fail)', async () => {
  const history = load(files[0]);
  const scheduled = history.events.filter((e) => e.activityTaskScheduledEventAttributes);
  (scheduled[2].activityTaskScheduledEventAttributes as { activityType: { name: string } }).activityType.name = 'someOtherActivity';
  await expect(Worker.runReplayHistory({ workflowsPath: require.resolve('../../workflows') }, historyFromJSON(history), 'tampered')).rejects.toThrow(/[Nn]ondeterminism|[Dd]eterminism/);
});
