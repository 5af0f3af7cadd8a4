import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canonicalJson, sha256Hex } from '../../harness/canonical';
import { ArtifactStore } from '../../store/artifact-store';
import { openStore } from '../../store/open-store';
import { S3Store } from '../../store/s3-store';
import { storeContract, StoreFixture } from '../helpers/store-contract';

/** The local folder backend: the files behind it are written directly to damage them. */
async function localFixture(): Promise<StoreFixture> {
  const root = mkdtempSync(join(tmpdir(), 'hx-store-contract-'));
  const blobFile = (ref: string) => {
    const hex = ref.slice('sha256:'.length);
    return join(root, 'artifacts', hex.slice(0, 2), `${hex}.json.gz`);
  };
  return {
    open: () => new ArtifactStore(root),
    replaceBlobBytes: async (ref, bytes) => writeFileSync(blobFile(ref), bytes),
    writeRawCacheEntry: async (namespace, key, bytes) => {
      mkdirSync(join(root, 'cache', namespace), { recursive: true });
      writeFileSync(join(root, 'cache', namespace, `${sha256Hex(canonicalJson(key))}.json`), bytes);
    },
    blobCount: async () => readdirSync(join(root, 'artifacts'), { recursive: true, withFileTypes: true }).filter((e) => e.isFile() && e.name.endsWith('.json.gz')).length,
  };
}

storeContract('local folder', localFixture);

describe('openStore: HARNESSX_STORE and the AWS settings', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hx-open-store-'));
  const open = (env: Record<string, string>) => openStore({ defaultDir: dir, env });

  test('unset or a path: a local folder; s3://bucket/prefix: an S3 store (nothing contacted yet)', () => {
    expect(open({})).toBeInstanceOf(ArtifactStore);
    expect(open({}).location).toBe(dir);
    const other = join(dir, 'elsewhere');
    expect(open({ HARNESSX_STORE: other }).location).toBe(other);
    const s3 = open({ HARNESSX_STORE: 's3://my-bucket/runs/team-a/', AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9', AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'shh-secret' });
    expect(s3).toBeInstanceOf(S3Store);
    expect(s3.location).toBe('s3://my-bucket/runs/team-a');
    expect((s3 as S3Store).settings).toEqual({ bucket: 'my-bucket', prefix: 'runs/team-a', endpoint: 'http://127.0.0.1:9', region: 'us-east-1' });
    expect(JSON.stringify((s3 as S3Store).settings)).not.toContain('shh-secret');
    expect((open({ HARNESSX_STORE: 's3://my-bucket', AWS_REGION: 'eu-west-1', AWS_ENDPOINT_URL: 'https://s3.example.com' }) as S3Store).settings).toEqual({ bucket: 'my-bucket', prefix: '', endpoint: 'https://s3.example.com', region: 'eu-west-1' });
  });

  test('malformed settings: an error naming the setting and the form expected, never echoing a secret', () => {
    expect(() => open({ HARNESSX_STORE: 'gs://bucket/x' })).toThrow(/^HARNESSX_STORE="gs:\/\/bucket\/x" is not a store this version supports: expected a local folder path or s3:\/\/bucket\/prefix$/);
    // Typos of an S3 location are refused, not taken as a local folder named "s3:…".
    for (const typo of ['s3:/harnessx', 's3:harnessx/runs', 'S3:/bucket/x'])
      expect(() => open({ HARNESSX_STORE: typo })).toThrow(`HARNESSX_STORE=${JSON.stringify(typo)} starts with "s3:" but is not an S3 location: expected s3://bucket or s3://bucket/prefix`);
    expect(() => open({ HARNESSX_STORE: 's3://' })).toThrow(/HARNESSX_STORE="s3:\/\/" names no valid bucket \(""\): expected s3:\/\/bucket or s3:\/\/bucket\/prefix/);
    expect(() => open({ HARNESSX_STORE: 's3://Bad_Bucket/x' })).toThrow(/names no valid bucket \("Bad_Bucket"\)/);
    expect(() => open({ HARNESSX_STORE: 's3://bucket/a/../b' })).toThrow(/has an invalid prefix \("a\/..\/b"\)/);
    const withKey = (() => {
      try {
        open({ HARNESSX_STORE: 's3://AKID:topsecret@bucket/x' });
      } catch (e) {
        return (e as Error).message;
      }
    })();
    expect(withKey).toMatch(/^HARNESSX_STORE is not a valid S3 location: .*credentials go in AWS_ACCESS_KEY_ID \/ AWS_SECRET_ACCESS_KEY, never in the URL$/);
    expect(withKey).not.toContain('topsecret');
    expect(() => open({ HARNESSX_STORE: 's3://bucket', AWS_ENDPOINT_URL_S3: 'localhost:9000' })).toThrow(/^AWS_ENDPOINT_URL_S3="localhost:9000" is not an http\(s\) URL: expected http\(s\):\/\/host\[:port\]/);
    expect(() => open({ HARNESSX_STORE: 's3://bucket', AWS_ENDPOINT_URL: 'not a url' })).toThrow(/^AWS_ENDPOINT_URL="not a url" is not a URL/);
    expect(() => open({ HARNESSX_STORE: 's3://bucket', AWS_ACCESS_KEY_ID: 'AKID' })).toThrow(/^AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not/);
    expect(() => open({ HARNESSX_STORE: 's3://bucket', AWS_SECRET_ACCESS_KEY: 'shh' })).toThrow(/^AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not/);
  });
});
