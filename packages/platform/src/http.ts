/**
 * A small HTTP server for what is not gRPC: Prometheus `/metrics`, liveness
 * `/healthz`, readiness `/readyz`, and the routes a service adds for channel
 * callbacks and webhooks. Bodies are read with a size limit and a timeout;
 * nothing here parses a body for the route, the route decides its format
 * (channels speak form-encoded, XML or JSON).
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Logger } from 'pino';

export interface HttpRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingMessage['headers'];
  readonly body: Buffer;
}

export interface HttpResponse {
  readonly status: number;
  readonly headers?: Record<string, string>;
  readonly body: string | Buffer;
}

export type HttpHandler = (req: HttpRequest) => Promise<HttpResponse>;

export interface HttpServerOptions {
  readonly host?: string;
  readonly port: number;
  readonly registry?: Registry;
  readonly ready?: () => boolean;
  readonly logger?: Logger;
  readonly bodySizeMaxBytes?: number;
  readonly requestTimeoutMs?: number;
}

export class HttpServer {
  private readonly routes = new Map<string, HttpHandler>();
  private readonly server: http.Server;
  private readonly bodySizeMaxBytes: number;

  constructor(private readonly options: HttpServerOptions) {
    this.bodySizeMaxBytes = options.bodySizeMaxBytes ?? 1024 * 1024;
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        options.logger?.error({ err }, 'http handler failed');
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('internal error');
      });
    });
    this.server.requestTimeout = options.requestTimeoutMs ?? 30_000;
    this.server.headersTimeout = Math.min(this.server.requestTimeout, 20_000);
  }

  /** Registers `handler` for `METHOD /path` (exact match). */
  route(method: string, path: string, handler: HttpHandler): this {
    this.routes.set(`${method.toUpperCase()} ${path}`, handler);
    return this;
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port, this.options.host ?? '0.0.0.0', () => resolve());
    });
    return (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeIdleConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = (req.method ?? 'GET').toUpperCase();
    if (method === 'GET' && url.pathname === '/metrics' && this.options.registry) {
      const body = await this.options.registry.metrics();
      res.writeHead(200, { 'content-type': this.options.registry.contentType });
      res.end(body);
      return;
    }
    if (method === 'GET' && url.pathname === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
      return;
    }
    if (method === 'GET' && url.pathname === '/readyz') {
      const ready = this.options.ready?.() ?? true;
      res.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' });
      res.end(ready ? 'ready' : 'not ready');
      return;
    }
    const handler = this.routes.get(`${method} ${url.pathname}`);
    if (!handler) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
      return;
    }
    const body = await readBody(req, this.bodySizeMaxBytes);
    if (body === undefined) {
      await refuseTooLarge(req, res, this.bodySizeMaxBytes);
      return;
    }
    const out = await handler({
      method,
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      body,
    });
    res.writeHead(out.status, out.headers ?? { 'content-type': 'text/plain; charset=utf-8' });
    res.end(out.body);
  }
}

/**
 * The body, or undefined once it passes `limit` (the rest is left unread for
 * refuseTooLarge). A declared Content-Length over the limit is refused
 * before reading anything.
 */
async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > limit) return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData);
        req.off('end', onEnd);
        req.pause();
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => resolve(Buffer.concat(chunks));
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', reject);
  });
}

/** How much of a refused body is read and thrown away so the connection can close without a reset. */
const REFUSED_BODY_DRAIN_FACTOR = 16;
const REFUSED_BODY_DRAIN_MS = 5_000;

/**
 * Answers 413 with `Connection: close` and closes the connection cleanly: the
 * rest of the body is read and discarded first (bounded in bytes and time),
 * because closing a socket with unread data makes the kernel send a reset,
 * which a client sees as a failed request instead of our answer; and the
 * `Connection: close` tells a keep-alive client not to reuse the connection
 * for its next request. A client that sends more than the drain bound still
 * gets the answer, then the connection is cut.
 */
async function refuseTooLarge(req: IncomingMessage, res: ServerResponse, limit: number): Promise<void> {
  const drainBytesMax = limit * REFUSED_BODY_DRAIN_FACTOR;
  await new Promise<void>((resolve) => {
    let drained = 0;
    const done = (): void => {
      clearTimeout(timer);
      req.off('data', onData);
      resolve();
    };
    const onData = (chunk: Buffer): void => {
      drained += chunk.length;
      if (drained > drainBytesMax) done();
    };
    const timer = setTimeout(done, REFUSED_BODY_DRAIN_MS);
    if (req.readableEnded) return done();
    req.on('data', onData);
    req.once('end', done);
    req.once('error', done);
    req.once('close', done);
    req.resume();
  });
  res.shouldKeepAlive = false;
  res.writeHead(413, { 'content-type': 'text/plain', connection: 'close' });
  res.end('body too large');
}
