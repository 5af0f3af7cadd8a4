import { createHash, Hash } from 'node:crypto';
import { crc32, createGzip } from 'node:zlib';

/**
 * Where a finished array blob goes: `hex` is its sha256, `data` the gzip'd bytes, `crc` and `length` the
 * CRC-32 and byte length of the uncompressed text (a gzip trailer's fields, for cheap "already stored" checks).
 */
export type ArrayBlobSink = (hex: string, data: Buffer, crc: number, length: number) => Promise<void>;

/** See Store.arrayWriter. Add every element, then `finish()` once for the ref. */
export class ArrayBlobWriter {
  private readonly hash: Hash = createHash('sha256');
  private readonly gzip = createGzip({ level: 1 });
  private readonly compressed: Buffer[] = [];
  private readonly done: Promise<void>;
  private count = 0;
  private finished = false;

  private crc = 0;
  private bytes = 0;

  constructor(private readonly write: ArrayBlobSink) {
    this.gzip.on('data', (chunk: Buffer) => this.compressed.push(chunk));
    this.done = new Promise((resolve, reject) => {
      this.gzip.on('end', resolve);
      this.gzip.on('error', reject);
    });
    // A writer abandoned mid-way (its rollout failed) must not surface as an unhandled rejection; finish() still sees the error.
    this.done.catch(() => undefined);
  }

  get length(): number {
    return this.count;
  }

  add(element: unknown): void {
    if (this.finished) throw new Error('ArrayBlobWriter: add() after finish()');
    const text = (this.count++ === 0 ? '[' : ',') + JSON.stringify(element === undefined ? null : element);
    this.track(text);
    this.gzip.write(text);
  }

  private track(text: string): void {
    this.hash.update(text);
    this.crc = crc32(text, this.crc);
    this.bytes += Buffer.byteLength(text);
  }

  /** Writes the blob (unless the store has it already) and returns its ref. */
  async finish(): Promise<string> {
    if (this.finished) throw new Error('ArrayBlobWriter: finish() called twice');
    this.finished = true;
    const tail = this.count === 0 ? '[]' : ']';
    this.track(tail);
    this.gzip.end(tail);
    await this.done;
    const hex = this.hash.digest('hex');
    await this.write(hex, Buffer.concat(this.compressed), this.crc, this.bytes);
    return `sha256:${hex}`;
  }
}
