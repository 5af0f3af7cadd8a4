import { AesGcmCodec } from '../../workers/codec';
import { createCodecServer } from '../codec-server';
import { UsageError } from '../errors';
import { type Commands, parseFlags } from '../options';

export const commands: Commands = {
  /** Serves the codec endpoint the Web UI calls to show encrypted payloads; runs until stopped. */
  'codec-server': async (args) => {
    const values = parseFlags(args, { port: { type: 'string', default: '8888' } });
    if (!process.env.HARNESSX_CODEC_KEY) throw new UsageError('set HARNESSX_CODEC_KEY (the same key the workers use)');
    const server = createCodecServer({ codec: new AesGcmCodec(process.env.HARNESSX_CODEC_KEY), authToken: process.env.HARNESSX_CODEC_AUTH });
    server.listen(Number(values.port), '127.0.0.1', () =>
      console.log(`codec endpoint on http://127.0.0.1:${values.port} (set it in the Web UI's codec server settings)${process.env.HARNESSX_CODEC_AUTH ? '; requires the bearer token' : ''}`),
    );
    await new Promise(() => undefined);
  },
};
