/**
 * Proves that the platform's HTTP server refuses an oversized body without
 * breaking a keep-alive client: with a real node:http client (keep-alive
 * agent, one socket) the refused request gets 413 with `Connection: close`,
 * its connection closes without a reset (the socket's close reports no
 * error), and the same client's next requests succeed on a new connection.
 * Both a body that streams past the limit (chunked) and one whose declared
 * Content-Length is over it are tried.
 */
import http from 'node:http';
import { expect } from 'chai';
import { HttpServer } from '../src/http';

interface Answer {
  readonly status: number;
  readonly connection: string | undefined;
  readonly closedWithError: Promise<boolean>;
}

function send(agent: http.Agent, url: string, body: Buffer | undefined, chunked: boolean): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = chunked ? {} : { 'content-length': String(body?.length ?? 0) };
    const req = http.request(url, { method: body === undefined ? 'GET' : 'POST', agent, headers });
    let closedWithError: Promise<boolean> = Promise.resolve(false);
    req.on('socket', (socket) => {
      closedWithError = new Promise((done) => socket.once('close', (hadError: boolean) => done(hadError)));
    });
    req.on('error', reject);
    req.on('response', (res) => {
      res.resume();
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, closedWithError }),
      );
    });
    if (body !== undefined && chunked) {
      // Several writes: the server sees the limit passed mid-stream.
      for (let at = 0; at < body.length; at += 64 * 1024) req.write(body.subarray(at, at + 64 * 1024));
      req.end();
    } else req.end(body);
  });
}

describe('HTTP server: an oversized body is refused without breaking a keep-alive client', function () {
  this.timeout(30_000);
  let server: HttpServer;
  let base: string;

  before(async () => {
    server = new HttpServer({ host: '127.0.0.1', port: 0, bodySizeMaxBytes: 64 * 1024 });
    server.route('POST', '/echo', (req) => Promise.resolve({ status: 200, body: `${req.body.length}` }));
    base = `http://127.0.0.1:${await server.listen()}`;
  });
  after(async () => {
    await server.close();
  });

  for (const chunked of [true, false]) {
    it(`${chunked ? 'a streamed' : 'a declared'} oversized body: 413, Connection: close, clean close, next request works`, async () => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      try {
        expect((await send(agent, `${base}/echo`, Buffer.alloc(10), false)).status).to.equal(200);
        const refused = await send(agent, `${base}/echo`, Buffer.alloc(1024 * 1024, 1), chunked);
        expect(refused.status).to.equal(413);
        expect(refused.connection).to.equal('close');
        expect(await refused.closedWithError, 'closed without a reset').to.equal(false);
        for (let i = 0; i < 3; i += 1) {
          const next = await send(agent, `${base}/echo`, Buffer.alloc(100), false);
          expect(next.status).to.equal(200);
        }
      } finally {
        agent.destroy();
      }
    });
  }
});
