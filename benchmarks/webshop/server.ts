import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Shop } from './store';

/**
 * The store as a real local HTTP server (127.0.0.1, an ephemeral port), one per process, started on first
 * use and unref'd so it never keeps a worker alive. It serves the same pages the verifier replays.
 */
let running: Promise<string> | null = null;

export function shopServerUrl(shop: Shop): Promise<string> {
  running ??= new Promise<string>((resolve, reject) => {
    const server: Server = createServer((req, res) => {
      if (req.method !== 'GET') {
        res.writeHead(405, { 'content-type': 'text/plain' }).end('GET only');
        return;
      }
      const page = shop.page(req.url ?? '/');
      // One request per connection: a kept-alive socket that the server times out while the client's event
      // loop is busy (a long synchronous verification) is reset under the next request (ECONNRESET).
      res.writeHead(page.status, { 'content-type': 'text/html; charset=utf-8', connection: 'close' }).end(page.html);
    });
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.unref();
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    });
  });
  return running;
}
