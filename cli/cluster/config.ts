/**
 * Pure configuration of the production-style local deployment (`harnessx cluster`, #18): the port layout,
 * the Temporal server's and the Web UI server's YAML, and the settings printed for workers. No I/O here, so
 * unit tests check every generated file directly.
 */
import { DEV_SERVER } from '../../temporal.config';

/** The default first port: above the dev server's 7233 (gRPC) and 8233 (UI), below the kernel's ephemeral range. */
export const DEFAULT_PORT_BASE = 7300;
/** The cluster uses PORT_SPAN consecutive ports from its base. */
export const PORT_SPAN = 13;
export const CLUSTER_NAMESPACE = 'default';
export const CLUSTER_BUCKET = 'harnessx';
export const CLUSTER_REGION = 'us-east-1';
/** The PostgreSQL role the Temporal server and the SQL tool log in as (the cluster's superuser, created by initdb). */
export const POSTGRES_USER = 'temporal';
export const TEMPORAL_DATABASE = 'temporal';
export const VISIBILITY_DATABASE = 'temporal_visibility';
/** Retention of closed runs' histories on the cluster (the dev server keeps them a day; runs here last days). */
export const NAMESPACE_RETENTION_DAYS = 30;

export interface ClusterPorts {
  frontendGrpc: number;
  frontendHttp: number;
  historyGrpc: number;
  matchingGrpc: number;
  workerGrpc: number;
  frontendMembership: number;
  historyMembership: number;
  matchingMembership: number;
  workerMembership: number;
  ui: number;
  s3: number;
  postgres: number;
}

/** What each port is for, for error messages ("port 7300 (Temporal frontend gRPC) is in use"). */
export const PORT_PURPOSE: Record<keyof ClusterPorts, string> = {
  frontendGrpc: 'Temporal frontend gRPC',
  frontendHttp: 'Temporal frontend HTTP',
  historyGrpc: 'Temporal history gRPC',
  matchingGrpc: 'Temporal matching gRPC',
  workerGrpc: 'Temporal worker-service gRPC',
  frontendMembership: 'Temporal frontend membership',
  historyMembership: 'Temporal history membership',
  matchingMembership: 'Temporal matching membership',
  workerMembership: 'Temporal worker-service membership',
  ui: 'Temporal Web UI',
  s3: 'S3 server (versitygw)',
  postgres: 'PostgreSQL',
};

export class ClusterConfigError extends Error {}

/**
 * The ports of a cluster whose first port is `base`: base..base+12. The dev server's ports (7233, 8233) are
 * refused, so `cluster up` and `harnessx server` can always run side by side.
 */
export function clusterPorts(base: number = DEFAULT_PORT_BASE): ClusterPorts {
  if (!Number.isInteger(base) || base < 1024 || base + PORT_SPAN - 1 > 65535)
    throw new ClusterConfigError(`--port-base must be a whole number from 1024 to ${65535 - PORT_SPAN + 1} (the cluster uses ${PORT_SPAN} consecutive ports), got ${base}`);
  const ports: ClusterPorts = {
    frontendGrpc: base,
    frontendHttp: base + 1,
    historyGrpc: base + 2,
    matchingGrpc: base + 3,
    workerGrpc: base + 4,
    frontendMembership: base + 5,
    historyMembership: base + 6,
    matchingMembership: base + 7,
    workerMembership: base + 8,
    ui: base + 10,
    s3: base + 11,
    postgres: base + 12,
  };
  for (const reserved of [DEV_SERVER.port, DEV_SERVER.uiPort])
    for (const [key, port] of Object.entries(ports))
      if (port === reserved)
        throw new ClusterConfigError(`--port-base ${base} puts the ${PORT_PURPOSE[key as keyof ClusterPorts]} on ${port}, the dev server's port; choose a base whose ${PORT_SPAN} ports avoid ${DEV_SERVER.port} and ${DEV_SERVER.uiPort}`);
  return ports;
}

/** Parses `--port-base`; undefined: the default. */
export function portBaseFlag(text: string | undefined): number {
  if (text === undefined) return DEFAULT_PORT_BASE;
  if (!/^\d+$/.test(text)) throw new ClusterConfigError(`--port-base must be a whole number, got "${text}"`);
  return Number(text);
}

const yamlString = (s: string) => JSON.stringify(s);

/** Where the cluster's Temporal frontend and S3 server listen by default: loopback, this machine only. */
export const DEFAULT_HOST = '127.0.0.1';

/**
 * Parses `--host`: the address workers on other hosts reach the cluster at. It must be an IPv4 address of
 * this machine (`localAddresses`), or the servers could not bind it. undefined: loopback.
 */
export function hostFlag(text: string | undefined, localAddresses: string[]): string {
  if (text === undefined) return DEFAULT_HOST;
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(text) || text.split('.').some((n) => Number(n) > 255))
    throw new ClusterConfigError(`--host must be an IPv4 address of this machine (the address workers reach the cluster at), got "${text}"`);
  if (text !== DEFAULT_HOST && !localAddresses.includes(text))
    throw new ClusterConfigError(`--host ${text} is not an address of this machine (it has: ${[DEFAULT_HOST, ...localAddresses.filter((a) => a !== DEFAULT_HOST)].join(', ')})`);
  return text;
}

export interface TemporalServerConfigInput {
  ports: ClusterPorts;
  /** The address the services bind and advertise (DEFAULT_HOST when omitted). */
  host?: string;
  postgresPassword: string;
  /** Where the file-based dynamic config lives (absolute). */
  dynamicConfigFile: string;
  /** History shards: fixed for the life of the database (a changed count refuses to start). */
  historyShards?: number;
}

/**
 * The Temporal server's config (the shape of the server module's config/development-postgres12.yaml):
 * persistence and advanced visibility on PostgreSQL, every service on loopback (or on `host`, which the
 * services then also advertise to each other) at the cluster's ports, no metrics endpoint or pprof (they
 * would need ports of their own), archival off. PostgreSQL stays on loopback either way.
 */
export function temporalServerConfig(input: TemporalServerConfigInput): string {
  const { ports } = input;
  const host = input.host ?? DEFAULT_HOST;
  const datastore = (database: string, maxConns: number) => [
    `      sql:`,
    `        pluginName: "postgres12"`,
    `        databaseName: ${yamlString(database)}`,
    `        connectAddr: "127.0.0.1:${ports.postgres}"`,
    `        connectProtocol: "tcp"`,
    `        user: ${yamlString(POSTGRES_USER)}`,
    `        password: ${yamlString(input.postgresPassword)}`,
    `        maxConns: ${maxConns}`,
    `        maxIdleConns: ${maxConns}`,
    `        maxConnLifetime: "1h"`,
  ];
  const service = (name: string, grpc: number, membership: number, http?: number) => [
    `  ${name}:`,
    `    rpc:`,
    `      grpcPort: ${grpc}`,
    `      membershipPort: ${membership}`,
    host === DEFAULT_HOST ? `      bindOnLocalHost: true` : `      bindOnIP: ${yamlString(host)}`,
    ...(http === undefined ? [] : [`      httpPort: ${http}`]),
  ];
  return [
    '# Generated by `harnessx cluster up`; regenerated on every `up` (edit cli/cluster/config.ts instead).',
    'log:',
    '  stdout: true',
    '  level: warn',
    '',
    'persistence:',
    '  defaultStore: postgres-default',
    '  visibilityStore: postgres-visibility',
    `  numHistoryShards: ${input.historyShards ?? 4}`,
    '  datastores:',
    '    postgres-default:',
    ...datastore(TEMPORAL_DATABASE, 20),
    '    postgres-visibility:',
    ...datastore(VISIBILITY_DATABASE, 10),
    '',
    'global:',
    '  membership:',
    '    maxJoinDuration: 30s',
    `    broadcastAddress: ${yamlString(host)}`,
    '',
    'services:',
    ...service('frontend', ports.frontendGrpc, ports.frontendMembership, ports.frontendHttp),
    ...service('history', ports.historyGrpc, ports.historyMembership),
    ...service('matching', ports.matchingGrpc, ports.matchingMembership),
    ...service('worker', ports.workerGrpc, ports.workerMembership),
    '',
    'clusterMetadata:',
    '  enableGlobalNamespace: false',
    '  failoverVersionIncrement: 10',
    '  masterClusterName: "active"',
    '  currentClusterName: "active"',
    '  clusterInformation:',
    '    active:',
    '      enabled: true',
    '      initialFailoverVersion: 1',
    '      rpcName: "frontend"',
    `      rpcAddress: "${host}:${ports.frontendGrpc}"`,
    '',
    'dcRedirectionPolicy:',
    '  policy: "noop"',
    '',
    'archival:',
    '  history:',
    '    state: "disabled"',
    '  visibility:',
    '    state: "disabled"',
    '',
    'namespaceDefaults:',
    '  archival:',
    '    history:',
    '      state: "disabled"',
    '    visibility:',
    '      state: "disabled"',
    '',
    'dynamicConfigClient:',
    `  filepath: ${yamlString(input.dynamicConfigFile)}`,
    '  pollInterval: "10s"',
    '',
  ].join('\n');
}

/**
 * Dynamic config: workflow ids as long as the dev server allows (run ids name suites and seeds). Updates
 * (setBudget, decide) are on by default in v1.29.
 */
export function temporalDynamicConfig(): string {
  return ['# Generated by `harnessx cluster up`.', 'limit.maxIDLength:', '  - value: 255', '    constraints: {}', ''].join('\n');
}

/** The Web UI server's config (the keys of ui-server's config/docker.yaml, without its templating). */
export function uiServerConfig(ports: ClusterPorts, namespace: string = CLUSTER_NAMESPACE, host: string = DEFAULT_HOST): string {
  return [
    '# Generated by `harnessx cluster up`.',
    `temporalGrpcAddress: "${host}:${ports.frontendGrpc}"`,
    // Loopback only, like every other component; no news fetched from the internet.
    'host: "127.0.0.1"',
    `port: ${ports.ui}`,
    'publicPath: ""',
    'disableNewsFetch: true',
    'enableUi: true',
    'cloudUi: false',
    `defaultNamespace: ${yamlString(namespace)}`,
    'notifyOnNewVersion: false',
    'refreshInterval: 0s',
    'showTemporalSystemNamespace: false',
    'cors:',
    '  cookieInsecure: true',
    '  unsafeAllowAllOrigins: false',
    '  allowOrigins:',
    `    - "http://localhost:${ports.ui}"`,
    `    - "http://127.0.0.1:${ports.ui}"`,
    'auth:',
    '  enabled: false',
    'hideLogs: false',
    '',
  ].join('\n');
}

export interface ConnectSettings {
  TEMPORAL_ADDRESS: string;
  TEMPORAL_NAMESPACE: string;
  TEMPORAL_UI_URL: string;
  HARNESSX_STORE: string;
  AWS_ENDPOINT_URL_S3: string;
  AWS_ACCESS_KEY_ID: string;
  AWS_SECRET_ACCESS_KEY: string;
  AWS_REGION: string;
}

/** The environment a worker (or `harnessx evolve`) needs to use this cluster and its bucket. */
export function connectSettings(ports: ClusterPorts, s3: { accessKeyId: string; secretAccessKey: string }, host: string = DEFAULT_HOST): ConnectSettings {
  return {
    TEMPORAL_ADDRESS: `${host}:${ports.frontendGrpc}`,
    TEMPORAL_NAMESPACE: CLUSTER_NAMESPACE,
    TEMPORAL_UI_URL: `http://localhost:${ports.ui}`,
    // The bucket's root, no prefix: the store keeps run files under runs/ itself (a "runs" prefix made runs/runs/…).
    HARNESSX_STORE: `s3://${CLUSTER_BUCKET}`,
    AWS_ENDPOINT_URL_S3: `http://${host}:${ports.s3}`,
    AWS_ACCESS_KEY_ID: s3.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
    AWS_REGION: CLUSTER_REGION,
  };
}

/** Single-quoted for POSIX shells: `eval "$(harnessx cluster up --env)"` sets exactly these values. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

export function envLines(settings: ConnectSettings): string[] {
  return Object.entries(settings).map(([k, v]) => `export ${k}=${shellQuote(v)}`);
}

/** temporal.api.enums.v1.IndexedValueType by the names temporal.config.ts uses (the proto enum's numbers). */
const INDEXED_VALUE_TYPE = { Text: 1, Keyword: 2, Int: 3, Double: 4, Bool: 5, Datetime: 6, KeywordList: 7 } as const;

/** The project's search attributes (DEV_SERVER.searchAttributes) as an AddSearchAttributes request's map. */
export function searchAttributeTypes(): Record<string, number> {
  return Object.fromEntries(Object.entries(DEV_SERVER.searchAttributes).map(([name, type]) => [name, INDEXED_VALUE_TYPE[type]]));
}
