/**
 * A worker process for tests only: `harnessx worker`, except that every simulator task model a rollout
 * creates goes over the wire to the latency server at HX_TEST_SIM_WIRE_URL (bench/latency-server.ts), so
 * rollouts are slow, limited and observable at the server like a real endpoint's. Run with
 * `node --require tsx/cjs tests/integration/sim-over-wire-worker.ts`.
 */
import { SimOverWireModel } from '../../bench/latency-server';
import { connectionSettings, taskQueue } from '../../temporal.config';
import { createAegisWorker, installRuntime } from '../../workers/aegis-worker';
import { connectWorker } from '../../workers/connection';

async function main(): Promise<void> {
  const url = process.env.HX_TEST_SIM_WIRE_URL;
  const dataDir = process.env.HARNESSX_DATA_DIR;
  if (!url || !dataDir) throw new Error('HX_TEST_SIM_WIRE_URL and HARNESSX_DATA_DIR must be set');
  installRuntime();
  const worker = await createAegisWorker({
    connection: await connectWorker(),
    dataDir,
    substituteRolloutModel: (model, sample) => (model.id.startsWith('sim:') ? new SimOverWireModel(model.id, url, sample) : model),
  });
  console.log(`AEGIS worker polling ${taskQueue()} on ${connectionSettings().address} (simulator over the wire to ${url})`);
  await worker.run();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
