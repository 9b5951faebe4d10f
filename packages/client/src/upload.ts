/**
 * `paycore.reconciliation.uploadStatement(...)`: the client-streaming
 * UploadStatement RPC behind one promise, with the unary methods' token,
 * deadline, traceparent, context code and error mapping.
 *
 * - From bytes (a Buffer or Uint8Array): the SHA-256 and size are computed
 *   when not given, the request id is generated once when not given, and the
 *   upload is retried like an idempotent call (UNAVAILABLE and
 *   DEADLINE_EXCEEDED, with backoff): the bytes can be sent again, and the
 *   server answers a replayed request id or an already-imported file from
 *   the first message.
 * - From a stream (any AsyncIterable of bytes, e.g. `fs.createReadStream`):
 *   the caller declares `checksumSha256` and `sizeBytes` (the server checks
 *   both at the end), and there is one attempt only: a stream cannot be
 *   replayed. Retry by calling again with a fresh stream and the same
 *   `requestId`.
 * The bytes go out in chunks of `chunkBytes` (default 1 MiB, below gRPC's
 * 4 MiB message limit), honouring the channel's backpressure; the default
 * deadline is 5 minutes (an upload of hundreds of MiB takes a while).
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Client, Metadata, ServiceError } from '@grpc/grpc-js';
import {
  ReconciliationServiceService,
  type UploadStatementMetadata,
  type UploadStatementRequest,
  type UploadStatementResponse,
} from '@paycore/proto/paycore/reconciliation/v1/reconciliation_service';
import { checkDeadline, withAttempts, type CallOptions, type CallSettings, type RequestInput } from './call';

export const UPLOAD_DEADLINE_MS = 5 * 60_000;
export const UPLOAD_CHUNK_BYTES = 1024 * 1024;
const CHUNK_BYTES_MAX = 3 * 1024 * 1024;

export interface UploadStatementInput {
  /** The first message: request id, channel number, bill date, format, operator; checksum and size for a stream. */
  readonly metadata: RequestInput<UploadStatementMetadata>;
  /** The file: its bytes (replayable, retried) or a stream of them (one attempt). */
  readonly source: Uint8Array | AsyncIterable<Uint8Array>;
  /** Bytes per chunk message, 1 B .. 3 MiB (default 1 MiB). */
  readonly chunkBytes?: number;
}

export type UploadStatement = (
  input: UploadStatementInput,
  options?: CallOptions,
) => Promise<UploadStatementResponse>;

const method = ReconciliationServiceService.uploadStatement;

/** Splits whatever the source yields into chunks of at most `size` bytes. */
async function* chunked(
  source: Uint8Array | AsyncIterable<Uint8Array>,
  size: number,
): AsyncGenerator<Buffer> {
  if (source instanceof Uint8Array) {
    for (let at = 0; at < source.length; at += size) yield Buffer.from(source.subarray(at, at + size));
    return;
  }
  for await (const piece of source) {
    const bytes = Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
    for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
  }
}

/** One attempt: metadata, then the chunks, then the server's one answer. */
function uploadOnce(
  client: Client,
  first: UploadStatementMetadata,
  input: UploadStatementInput,
  chunkBytes: number,
  metadata: Metadata,
  deadlineMs: number,
): Promise<UploadStatementResponse> {
  return new Promise<UploadStatementResponse>((resolve, reject) => {
    let answered = false;
    const call = client.makeClientStreamRequest<UploadStatementRequest, UploadStatementResponse>(
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
      metadata,
      { deadline: Date.now() + deadlineMs },
      (err: ServiceError | null, response?: UploadStatementResponse) => {
        answered = true;
        if (err) reject(err);
        else if (response === undefined) reject(new Error(`${method.path}: empty response`));
        else resolve(response);
      },
    );
    const write = (message: UploadStatementRequest): Promise<void> =>
      call.write(message) ? Promise.resolve() : new Promise((drained) => call.once('drain', drained));
    void (async () => {
      try {
        await write({ metadata: first });
        // The server may answer (a replay, a refusal) before the last chunk: stop sending then.
        for await (const chunk of chunked(input.source, chunkBytes)) {
          if (answered) return;
          await write({ chunk });
        }
        call.end();
      } catch (err) {
        call.cancel();
        if (!answered) reject(err instanceof Error ? err : new Error(String(err)));
      }
    })();
  });
}

/** Builds `uploadStatement` for the reconciliation client over its channel. */
export function bindUploadStatement(channel: () => Client, settings: CallSettings): UploadStatement {
  return async (input, options = {}) => {
    const chunkBytes = input.chunkBytes ?? UPLOAD_CHUNK_BYTES;
    if (!Number.isInteger(chunkBytes) || chunkBytes < 1 || chunkBytes > CHUNK_BYTES_MAX) {
      throw new RangeError(`chunkBytes must be an integer in 1..${CHUNK_BYTES_MAX}`);
    }
    const replayable = input.source instanceof Uint8Array;
    const first: UploadStatementMetadata = {
      requestId: '',
      channelNo: '',
      billDate: '',
      format: '',
      operator: '',
      checksumSha256: '',
      sizeBytes: 0n,
      ...input.metadata,
    };
    if (first.requestId === '') first.requestId = randomUUID();
    if (input.source instanceof Uint8Array) {
      if (first.checksumSha256 === '')
        first.checksumSha256 = createHash('sha256').update(input.source).digest('hex');
      if (first.sizeBytes === 0n) first.sizeBytes = BigInt(input.source.length);
    } else if (first.checksumSha256 === '' || first.sizeBytes === 0n) {
      throw new RangeError(
        'uploadStatement from a stream needs metadata.checksumSha256 and metadata.sizeBytes',
      );
    }
    const deadlineMs = checkDeadline(options.deadlineMs ?? UPLOAD_DEADLINE_MS);
    return withAttempts(settings, options, method.path, replayable, (metadata) =>
      uploadOnce(channel(), first, input, chunkBytes, metadata, deadlineMs),
    );
  };
}
