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
      res.writeHead(413, { 'content-type': 'text/plain' });
      res.end('body too large');
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

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > limit) return undefined;
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}
