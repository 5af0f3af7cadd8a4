import { checkNamespace, checkSearchAttributes, TemporalSettingError } from '../../workers/connection';
import {
  ClusterConfigError,
  clusterPorts,
  connectSettings,
  DEFAULT_PORT_BASE,
  envLines,
  hostFlag,
  portBaseFlag,
  PORT_SPAN,
  searchAttributeTypes,
  shellQuote,
  temporalServerConfig,
  uiServerConfig,
} from '../../cli/cluster/config';
import { DEV_SERVER } from '../../temporal.config';

describe('cluster ports', () => {
  test('the default layout is distinct ports, none of them the dev server\'s', () => {
    const ports = Object.values(clusterPorts());
    expect(new Set(ports).size).toBe(ports.length);
    expect(ports).not.toContain(DEV_SERVER.port);
    expect(ports).not.toContain(DEV_SERVER.uiPort);
    expect(Math.min(...ports)).toBe(DEFAULT_PORT_BASE);
    expect(Math.max(...ports)).toBe(DEFAULT_PORT_BASE + PORT_SPAN - 1);
  });

  test('a base that would put a port on the dev server\'s is refused, naming the port', () => {
    expect(() => clusterPorts(7230)).toThrow(/Temporal .* on 7233, the dev server's port/);
    expect(() => clusterPorts(8225)).toThrow(/on 8233/);
  });

  test('--port-base must be a whole number in range', () => {
    expect(portBaseFlag(undefined)).toBe(DEFAULT_PORT_BASE);
    expect(portBaseFlag('20000')).toBe(20000);
    expect(() => portBaseFlag('7x')).toThrow(ClusterConfigError);
    expect(() => clusterPorts(80)).toThrow(/from 1024 to/);
    expect(() => clusterPorts(65530)).toThrow(/13 consecutive ports/);
  });
});

describe('generated config', () => {
  const ports = clusterPorts(20000);
  const yaml = temporalServerConfig({ ports, postgresPassword: 'pw"with\'quotes', dynamicConfigFile: '/x/dynamic.yaml' });

  test('the Temporal server keeps both stores on the cluster\'s PostgreSQL, with the password quoted', () => {
    expect(yaml.match(/pluginName: "postgres12"/g)).toHaveLength(2);
    expect(yaml.match(/connectAddr: "127\.0\.0\.1:20012"/g)).toHaveLength(2);
    expect(yaml).toContain('databaseName: "temporal"');
    expect(yaml).toContain('databaseName: "temporal_visibility"');
    expect(yaml).toContain('visibilityStore: postgres-visibility');
    expect(yaml).toContain(`password: ${JSON.stringify('pw"with\'quotes')}`);
  });

  test('every service listens on loopback at its own port', () => {
    for (const [service, grpc, membership] of [
      ['frontend', 20000, 20005],
      ['history', 20002, 20006],
      ['matching', 20003, 20007],
      ['worker', 20004, 20008],
    ] as const) {
      const block = yaml.slice(yaml.indexOf(`  ${service}:\n    rpc:`));
      expect(block).toMatch(new RegExp(`^  ${service}:\\n    rpc:\\n      grpcPort: ${grpc}\\n      membershipPort: ${membership}\\n      bindOnLocalHost: true`));
    }
    expect(yaml).toContain('httpPort: 20001');
    expect(yaml).toContain('rpcAddress: "127.0.0.1:20000"');
    expect(yaml).toContain('filepath: "/x/dynamic.yaml"');
    // No metrics or pprof listener: they would need ports outside the cluster's range.
    expect(yaml).not.toMatch(/prometheus|pprof/);
  });

  test('the Web UI points at the cluster\'s frontend and serves on its port', () => {
    const ui = uiServerConfig(ports);
    expect(ui).toContain('temporalGrpcAddress: "127.0.0.1:20000"');
    expect(ui).toContain('port: 20010');
    expect(ui).toContain('defaultNamespace: "default"');
    expect(ui).toContain('- "http://localhost:20010"');
  });

  test('the search attributes are the dev server\'s, as proto enum numbers', () => {
    const types = searchAttributeTypes();
    expect(Object.keys(types).sort()).toEqual(Object.keys(DEV_SERVER.searchAttributes).sort());
    expect(types.HarnessXRound).toBe(3);
    expect(types.HarnessXBestScore).toBe(4);
    expect(types.HarnessXBenchmark).toBe(2);
  });
});

describe('worker settings', () => {
  const settings = connectSettings(clusterPorts(20000), { accessKeyId: 'AK', secretAccessKey: "s'e\"c$(x)" });

  test('name the cluster, the bucket and the S3 endpoint', () => {
    expect(settings).toMatchObject({ TEMPORAL_ADDRESS: '127.0.0.1:20000', TEMPORAL_NAMESPACE: 'default', AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:20011', AWS_REGION: 'us-east-1' });
    // The bucket alone: the store lays out runs/, artifacts/, harnesses/ itself, so a "runs" prefix would double it.
    expect(settings.HARNESSX_STORE).toBe('s3://harnessx');
  });

  test('the --env form survives a shell: every value comes back exactly', () => {
    const { execFileSync } = require('node:child_process') as typeof import('node:child_process');
    const script = `${envLines(settings).join('\n')}\nprintf '%s\\n' "$AWS_SECRET_ACCESS_KEY" "$TEMPORAL_ADDRESS"`;
    expect(execFileSync('/bin/sh', ['-c', script], { encoding: 'utf8' })).toBe(`s'e"c$(x)\n127.0.0.1:20000\n`);
    expect(shellQuote("a'b")).toBe(`'a'\\''b'`);
  });
});

describe('checkNamespace', () => {
  const notFound = Object.assign(new Error('5 NOT_FOUND: Namespace nope is not found.'), { code: 5 });
  const service = (describe: () => Promise<unknown>) => ({
    describeNamespace: describe,
    listNamespaces: async () => ({ namespaces: [{ namespaceInfo: { name: 'default' } }, { namespaceInfo: { name: 'temporal-system' } }] }),
  }) as unknown as Parameters<typeof checkNamespace>[0];
  const settings = { address: '127.0.0.1:7300', namespace: 'nope', external: true, tls: false };

  test('a namespace the server does not have names TEMPORAL_NAMESPACE and the namespaces it has', async () => {
    const before = process.env.TEMPORAL_NAMESPACE;
    process.env.TEMPORAL_NAMESPACE = 'nope';
    try {
      const error = await checkNamespace(service(() => Promise.reject(notFound)), settings).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TemporalSettingError);
      expect((error as Error).message).toBe(
        'TEMPORAL_NAMESPACE=nope: no such namespace on the Temporal server at 127.0.0.1:7300 (it has: default); set TEMPORAL_NAMESPACE to an existing namespace, or register it (temporal operator namespace create --namespace nope --address 127.0.0.1:7300)',
      );
    } finally {
      if (before === undefined) delete process.env.TEMPORAL_NAMESPACE;
      else process.env.TEMPORAL_NAMESPACE = before;
    }
  });

  test('an existing namespace passes; other failures are not dressed up as a missing namespace', async () => {
    await expect(checkNamespace(service(() => Promise.resolve({})), settings)).resolves.toBeUndefined();
    const unavailable = Object.assign(new Error('14 UNAVAILABLE'), { code: 14 });
    await expect(checkNamespace(service(() => Promise.reject(unavailable)), settings)).rejects.toBe(unavailable);
  });
});

describe('checkSearchAttributes', () => {
  const settings = { address: '127.0.0.1:7300', namespace: 'default', external: true, tls: false };
  const all = { HarnessXBenchmark: 2, HarnessXTaskModel: 2, HarnessXMetaModel: 2, HarnessXStatus: 2, HarnessXRound: 3, HarnessXBestScore: 4, HarnessXHarnessId: 2 };
  const service = (list: () => Promise<unknown>) => ({ listSearchAttributes: list }) as unknown as Parameters<typeof checkSearchAttributes>[0];

  test('a namespace lacking some names them and gives the commands that add them', async () => {
    const { HarnessXRound: _round, HarnessXBestScore: _best, ...some } = all;
    const error = await checkSearchAttributes(service(async () => ({ customAttributes: some })), settings).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TemporalSettingError);
    const message = (error as Error).message;
    expect(message).toMatch(/^namespace "default" on the Temporal server at 127.0.0.1:7300 lacks the search attributes runs record \(HarnessXRound, HarnessXBestScore\)/);
    expect(message).toContain('temporal operator search-attribute create --namespace default --address 127.0.0.1:7300 --name HarnessXRound --type Int');
    expect(message).toContain('--name HarnessXBestScore --type Double');
    expect(message).not.toContain('HarnessXBenchmark');
  });

  test('all present passes; a refused listing is skipped rather than blocking the worker', async () => {
    await expect(checkSearchAttributes(service(async () => ({ customAttributes: all })), settings)).resolves.toBeUndefined();
    await expect(checkSearchAttributes(service(() => Promise.reject(Object.assign(new Error('7 PERMISSION_DENIED'), { code: 7 }))), settings)).resolves.toBeUndefined();
  });
});

describe('--host (workers on other machines)', () => {
  const ports = clusterPorts(20000);

  test('must be an IPv4 address of this machine; absent, loopback', () => {
    expect(hostFlag(undefined, ['10.0.0.5'])).toBe('127.0.0.1');
    expect(hostFlag('10.0.0.5', ['127.0.0.1', '10.0.0.5'])).toBe('10.0.0.5');
    expect(() => hostFlag('db.example', ['10.0.0.5'])).toThrow(/--host must be an IPv4 address of this machine.*"db.example"/);
    expect(() => hostFlag('10.0.0.300', ['10.0.0.5'])).toThrow(ClusterConfigError);
    expect(() => hostFlag('10.9.9.9', ['127.0.0.1', '10.0.0.5'])).toThrow('--host 10.9.9.9 is not an address of this machine (it has: 127.0.0.1, 10.0.0.5)');
  });

  test('the Temporal services bind and advertise it; PostgreSQL stays on loopback', () => {
    const yaml = temporalServerConfig({ ports, host: '10.0.0.5', postgresPassword: 'pw', dynamicConfigFile: '/x/dynamic.yaml' });
    expect(yaml.match(/bindOnIP: "10\.0\.0\.5"/g)).toHaveLength(4);
    expect(yaml).not.toContain('bindOnLocalHost');
    expect(yaml).toContain('broadcastAddress: "10.0.0.5"');
    expect(yaml).toContain('rpcAddress: "10.0.0.5:20000"');
    expect(yaml.match(/connectAddr: "127\.0\.0\.1:20012"/g)).toHaveLength(2);
    expect(uiServerConfig(ports, 'default', '10.0.0.5')).toContain('temporalGrpcAddress: "10.0.0.5:20000"');
  });

  test('workers are pointed at it', () => {
    expect(connectSettings(ports, { accessKeyId: 'AK', secretAccessKey: 'SK' }, '10.0.0.5')).toMatchObject({ TEMPORAL_ADDRESS: '10.0.0.5:20000', AWS_ENDPOINT_URL_S3: 'http://10.0.0.5:20011' });
  });
});
