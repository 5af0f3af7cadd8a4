import { networkInterfaces } from 'node:os';
import { clusterDown, clusterStatus, clusterUp, UpResult } from '../cluster/cluster';
import { ClusterConfigError, envLines, hostFlag, portBaseFlag } from '../cluster/config';
import { clusterDir } from '../cluster/processes';
import { UsageError } from '../errors';
import { type Commands, parseOptions } from '../options';
import { printJson } from '../output';

const USAGE = 'usage: harnessx cluster up [--port-base N] [--host ADDRESS] [--json | --env] [--show-secrets] | status [--json] | down [--purge]';

/** This machine's IPv4 addresses (where `--host` may point). */
function localAddresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((list) => (list ?? []).filter((i) => i.family === 'IPv4').map((i) => i.address));
}

/**
 * The settings as `up` shows them: the bucket's secret key only when this `up` created it or the operator
 * asks (--show-secrets), so a restart after a crash does not print it into a terminal log again. `--env`
 * prints it always: its output is for `eval`, not for reading.
 */
export function shownSettings(result: Pick<UpResult, 'settings' | 'secretsCreated' | 'dataDir'>, showSecrets: boolean): UpResult['settings'] {
  if (result.secretsCreated || showSecrets) return result.settings;
  return { ...result.settings, AWS_SECRET_ACCESS_KEY: `<in ${result.dataDir}/secrets.json; cluster up --show-secrets prints it>` };
}

function describeUp(result: UpResult, showSecrets: boolean): string[] {
  const { ports } = result;
  const settings = shownSettings(result, showSecrets);
  const shown = settings === result.settings;
  return [
    '',
    `The cluster is up (data, logs and keys in ${result.dataDir}; \`harnessx cluster down\` stops it).`,
    `  Temporal server  ${settings.TEMPORAL_ADDRESS}, namespace ${settings.TEMPORAL_NAMESPACE} (PostgreSQL on 127.0.0.1:${ports.postgres})`,
    `  Web UI           ${settings.TEMPORAL_UI_URL}`,
    `  S3 server        ${settings.AWS_ENDPOINT_URL_S3}, bucket ${settings.HARNESSX_STORE.replace(/^s3:\/\/([^/]+).*/, '$1')}`,
    '',
    shown
      ? 'Point workers and runs at it (these lines include the bucket\'s secret key, shown because this `up` created it or --show-secrets asked; `eval "$(npx harnessx cluster up --env)"` sets them):'
      : 'Point workers and runs at it (`eval "$(npx harnessx cluster up --env)"` sets them, secret key included):',
    ...envLines(settings).map((l) => `  ${l}`),
    '  npx harnessx worker        # on each worker host, with the same suites config (see README, "Deploying on a real cluster")',
  ];
}

async function guarded<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof ClusterConfigError) throw new UsageError(e.message);
    throw e;
  }
}

export const commands: Commands = {
  /** The production-style local deployment: PostgreSQL, the Temporal server, its Web UI and an S3 server. */
  cluster: async (args) => {
    const { values, positionals } = parseOptions(args, {
      'port-base': { type: 'string' },
      // The address workers on other machines reach the Temporal frontend and the S3 server at (default: loopback only).
      host: { type: 'string' },
      json: { type: 'boolean', default: false },
      env: { type: 'boolean', default: false },
      purge: { type: 'boolean', default: false },
      'show-secrets': { type: 'boolean', default: false },
    });
    const [action, ...extra] = positionals;
    if (!action || extra.length > 0) throw new UsageError(USAGE);
    if (values.json && values.env) throw new UsageError('--json and --env are two forms of the same output; pass one');
    const onlyFor = (flag: string, set: boolean, actions: string[]) => {
      if (set && !actions.includes(action)) throw new UsageError(`--${flag} applies to \`cluster ${actions.join('|')}\` only`);
    };
    onlyFor('port-base', values['port-base'] !== undefined, ['up']);
    onlyFor('host', values.host !== undefined, ['up']);
    onlyFor('env', values.env, ['up']);
    onlyFor('json', values.json, ['up', 'status']);
    onlyFor('purge', values.purge, ['down']);
    onlyFor('show-secrets', values['show-secrets'], ['up']);
    // Progress goes to stderr whenever stdout carries a machine-readable result.
    const log = (line: string) => (values.json || values.env ? process.stderr : process.stdout).write(`${line}\n`);

    if (action === 'up') {
      const portBase = values['port-base'] === undefined ? undefined : await guarded(async () => portBaseFlag(values['port-base']));
      const host = values.host === undefined ? undefined : await guarded(async () => hostFlag(values.host, localAddresses()));
      const result = await guarded(() => clusterUp({ portBase, host, log }));
      if (values.json) printJson({ ports: result.ports, settings: shownSettings(result, values['show-secrets']), components: result.components, dataDir: result.dataDir, secretsCreated: result.secretsCreated });
      else if (values.env) process.stdout.write(envLines(result.settings).join('\n') + '\n');
      else for (const line of describeUp(result, values['show-secrets'])) console.log(line);
      return 0;
    }
    if (action === 'status') {
      const status = await guarded(() => clusterStatus());
      const healthy = status.components.every((c) => c.healthy);
      if (values.json) printJson({ dataDir: clusterDir(), portBase: status.portBase, healthy, components: status.components });
      else {
        if (!status.exists) console.log(`No cluster in ${clusterDir()} (\`harnessx cluster up\` starts one); probing the default ports:`);
        const width = Math.max(...status.components.map((c) => c.label.length));
        for (const c of status.components)
          console.log(`${c.label.padEnd(width)}  ${c.healthy ? 'healthy  ' : 'UNHEALTHY'}  pid ${String(c.pid ?? '-').padEnd(7)}  port ${c.port}  ${c.detail}${c.healthy ? '' : ` (log: ${c.log})`}`);
      }
      return healthy ? 0 : 1;
    }
    if (action === 'down') {
      await clusterDown({ purge: values.purge, log });
      return 0;
    }
    throw new UsageError(`unknown cluster action "${action}"; ${USAGE}`);
  },
};
