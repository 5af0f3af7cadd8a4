import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';

const ENCODING = 'binary/encrypted';
const PayloadProto = temporal.api.common.v1.Payload;

/**
 * AES-256-GCM payload encryption. Workflow inputs, results, activity arguments and query/update payloads
 * reach the server (and its history) only as ciphertext; the key never leaves the worker and client.
 */
export class AesGcmCodec implements PayloadCodec {
  readonly keyId: string;
  private readonly key: Buffer;

  /** `secret`: a base64 32-byte key, or any passphrase (hashed to 32 bytes). */
  constructor(secret: string) {
    const decoded = Buffer.from(secret, 'base64');
    this.key = decoded.length === 32 && decoded.toString('base64') === secret ? decoded : createHash('sha256').update(secret).digest();
    this.keyId = createHash('sha256').update(this.key).digest('hex').slice(0, 12);
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', this.key, iv);
      const body = Buffer.concat([cipher.update(PayloadProto.encode(p).finish()), cipher.final()]);
      return {
        metadata: { encoding: Buffer.from(ENCODING), 'encryption-key-id': Buffer.from(this.keyId) },
        data: Buffer.concat([iv, cipher.getAuthTag(), body]),
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => {
      if (Buffer.from(p.metadata?.encoding ?? []).toString() !== ENCODING) return p;
      const keyId = Buffer.from(p.metadata?.['encryption-key-id'] ?? []).toString();
      if (keyId !== this.keyId) throw new Error(`payload was encrypted with key ${keyId || '(unknown)'}, not ${this.keyId}`);
      const data = Buffer.from(p.data ?? []);
      const decipher = createDecipheriv('aes-256-gcm', this.key, data.subarray(0, 12));
      decipher.setAuthTag(data.subarray(12, 28));
      return PayloadProto.decode(Buffer.concat([decipher.update(data.subarray(28)), decipher.final()]));
    });
  }
}

/** The data converter for clients and workers: encrypted when HARNESSX_CODEC_KEY is set. */
export function dataConverter(env: NodeJS.ProcessEnv = process.env) {
  return env.HARNESSX_CODEC_KEY ? { payloadCodecs: [new AesGcmCodec(env.HARNESSX_CODEC_KEY)] } : undefined;
}
