import { CreateBucketCommand, HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { CLUSTER_BUCKET, CLUSTER_REGION, ClusterPorts } from './config';
import type { ClusterSecrets } from './state';

/** The cluster's S3 part (versitygw): a client with the generated root keys, its health probe, the bucket. */

type Log = (line: string) => void;

export function s3Client(ports: ClusterPorts, secrets: ClusterSecrets, host: string): S3Client {
  return new S3Client({
    endpoint: `http://${host}:${ports.s3}`,
    region: CLUSTER_REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: secrets.s3AccessKeyId, secretAccessKey: secrets.s3SecretAccessKey },
    maxAttempts: 1,
  });
}

export async function s3Answering(ports: ClusterPorts, secrets: ClusterSecrets, host: string): Promise<boolean> {
  const client = s3Client(ports, secrets, host);
  try {
    await client.send(new HeadBucketCommand({ Bucket: CLUSTER_BUCKET }));
    return true;
  } catch (e) {
    // A 404 is an answer: the server is up, the bucket not made yet.
    return (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404;
  } finally {
    client.destroy();
  }
}

export async function ensureBucket(ports: ClusterPorts, secrets: ClusterSecrets, host: string, log: Log): Promise<void> {
  const client = s3Client(ports, secrets, host);
  try {
    await client.send(new CreateBucketCommand({ Bucket: CLUSTER_BUCKET }));
    log(`  created bucket ${CLUSTER_BUCKET}`);
  } catch (e) {
    const name = (e as Error).name;
    if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') throw e;
  } finally {
    client.destroy();
  }
}
