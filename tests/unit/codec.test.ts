import { AddressInfo } from 'node:net';
import { defaultPayloadConverter } from '@temporalio/common';
import { createCodecServer, payloadToJSON } from '../../cli/codec-server';
import { AesGcmCodec } from '../../workers/codec';

describe('payload encryption codec', () => {
  const codec = new AesGcmCodec('correct horse battery staple');
  const plain = defaultPayloadConverter.toPayload({ benchmark: 'blocksworld', secret: 'canary-123' });

  it('round-trips and hides the plaintext', async () => {
    const [encoded] = await codec.encode([plain]);
    expect(Buffer.from(encoded.data!).toString('latin1')).not.toContain('canary-123');
    expect(Buffer.from(encoded.metadata!.encoding!).toString()).toBe('binary/encrypted');
    const [decoded] = await codec.decode([encoded]);
    expect(defaultPayloadConverter.fromPayload(decoded)).toEqual({ benchmark: 'blocksworld', secret: 'canary-123' });
  });

  it('rejects tampered ciphertext and foreign keys; passes unencrypted payloads through', async () => {
    const [encoded] = await codec.encode([plain]);
    const data = Buffer.from(encoded.data!);
    data[data.length - 1] ^= 1;
    await expect(codec.decode([{ ...encoded, data }])).rejects.toThrow();
    await expect(new AesGcmCodec('another key').decode([encoded])).rejects.toThrow(/encrypted with key/);
    expect(await codec.decode([plain])).toEqual([plain]);
  });

  it('serves the codec endpoint protocol, with CORS for the Web UI and bearer-token auth', async () => {
    const server = createCodecServer({ codec, authToken: 'let-me-in' });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const [encoded] = await codec.encode([plain]);
      const body = JSON.stringify({ payloads: [payloadToJSON(encoded)] });
      const denied = await fetch(`${url}/decode`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
      expect(denied.status).toBe(401);
      const ok = await fetch(`${url}/decode`, { method: 'POST', body, headers: { 'content-type': 'application/json', authorization: 'Bearer let-me-in', origin: 'http://localhost:8233' } });
      expect(ok.status).toBe(200);
      expect(ok.headers.get('access-control-allow-origin')).toBe('http://localhost:8233');
      const json = (await ok.json()) as { payloads: Array<{ data: string }> };
      expect(Buffer.from(json.payloads[0].data, 'base64').toString()).toContain('canary-123');
      const bad = await fetch(`${url}/decode`, { method: 'POST', body: '{"nope":1}', headers: { authorization: 'Bearer let-me-in' } });
      expect(bad.status).toBe(400);
      expect((await fetch(`${url}/other`, { method: 'POST', body: '{}' })).status).toBe(404);
    } finally {
      server.close();
    }
  });
});
