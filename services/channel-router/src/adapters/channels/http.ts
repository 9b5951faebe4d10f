/**
 * The one way adapters reach a channel: a POST (or GET) with a deadline and a
 * bounded answer. A network error or a timeout is returned as undefined —
 * "no answer", which to a payment means UNKNOWN, never FAIL.
 */
export const CHANNEL_ANSWER_BYTES_MAX = 32 * 1024 * 1024;

export interface HttpAnswer {
  readonly status: number;
  readonly body: Buffer;
  readonly contentType: string;
}

export async function channelRequest(
  url: string,
  init: { method: 'GET' | 'POST'; body?: string; contentType?: string },
  timeoutMs: number,
): Promise<HttpAnswer | undefined> {
  try {
    const response = await fetch(url, {
      method: init.method,
      ...(init.body !== undefined ? { body: init.body } : {}),
      headers: init.contentType !== undefined ? { 'content-type': init.contentType } : {},
      signal: AbortSignal.timeout(timeoutMs),
      redirect: 'error',
    });
    const declared = Number(response.headers.get('content-length') ?? '0');
    if (declared > CHANNEL_ANSWER_BYTES_MAX) return undefined;
    const body = Buffer.from(await response.arrayBuffer());
    if (body.length > CHANNEL_ANSWER_BYTES_MAX) return undefined;
    return { status: response.status, body, contentType: response.headers.get('content-type') ?? '' };
  } catch {
    return undefined;
  }
}
