import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { clusterDir } from './processes';

/** What `cluster up` keeps between commands: the layout (cluster.json) and the generated secrets (secrets.json, 0600). */
/** What `up` remembers for `status` and `down` (no secrets: those are in secrets.json, mode 0600). */
export interface ClusterState {
  portBase: number;
  /** The address the Temporal frontend and the S3 server listen on (`--host`); absent: loopback. */
  host?: string;
  createdAt: string;
}

export interface ClusterSecrets {
  postgresPassword: string;
  s3AccessKeyId: string;
  s3SecretAccessKey: string;
}

const stateFile = () => join(clusterDir(), 'cluster.json');
const secretsFile = () => join(clusterDir(), 'secrets.json');

export function readState(): ClusterState | null {
  if (!existsSync(stateFile())) return null;
  return JSON.parse(readFileSync(stateFile(), 'utf8')) as ClusterState;
}

/** Generated once, kept across `up`s (the database's password and the bucket's keys must not change under it). */
export function loadOrCreateSecrets(): ClusterSecrets {
  const kept = readSecrets();
  if (kept) {
    chmodSync(secretsFile(), 0o600);
    return kept;
  }
  const secrets: ClusterSecrets = {
    postgresPassword: randomBytes(18).toString('base64url'),
    s3AccessKeyId: `HX${randomBytes(9).toString('hex').toUpperCase()}`,
    s3SecretAccessKey: randomBytes(30).toString('base64url'),
  };
  writeFileSync(secretsFile(), JSON.stringify(secrets, null, 2) + '\n', { mode: 0o600 });
  return secrets;
}

/** The secrets `up` generated, or null before the first `up`. */
export function readSecrets(): ClusterSecrets | null {
  return existsSync(secretsFile()) ? (JSON.parse(readFileSync(secretsFile(), 'utf8')) as ClusterSecrets) : null;
}

export function writeState(state: ClusterState): void {
  writeFileSync(stateFile(), JSON.stringify(state, null, 2) + '\n');
}
