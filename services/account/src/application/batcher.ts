/**
 * Groups concurrent requests into batches that one worker handles together
 * (for transfers: one database transaction, one commit, many answers).
 *
 * A batch starts as soon as a worker slot is free; requests that arrive while
 * every slot is busy wait and form the next batch, so batches grow with load
 * and latency stays one transaction when idle. Everything is bounded: the
 * batch size, the number of batches in flight, and the queue, whose overflow
 * is refused at once rather than queued without limit.
 */
import assert from 'node:assert/strict';

export interface BatcherOptions {
  /** Most requests in one batch. */
  readonly batchSizeMax: number;
  /** Most batches running at once. */
  readonly concurrencyMax: number;
  /** Most requests waiting; beyond it submit() rejects with BatcherOverloadedError. */
  readonly queueLengthMax: number;
  /** How long to wait for more requests before starting a non-full batch; 0 = next tick. */
  readonly lingerMs: number;
}

/** One answer per request, in request order; a rejected answer carries its error. */
export type Settled<R> =
  { readonly ok: true; readonly value: R } | { readonly ok: false; readonly error: unknown };

export class BatcherOverloadedError extends Error {
  readonly reason = 'DEPENDENCY_UNAVAILABLE';
  readonly grpcCode = 'UNAVAILABLE' as const;
}

interface Waiting<T, R> {
  readonly request: T;
  readonly resolve: (value: R) => void;
  readonly reject: (error: unknown) => void;
}

export class Batcher<T, R> {
  private readonly queue: Waiting<T, R>[] = [];
  private running = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly options: BatcherOptions,
    private readonly handle: (requests: readonly T[]) => Promise<readonly Settled<R>[]>,
  ) {
    assert.ok(options.batchSizeMax >= 1 && options.concurrencyMax >= 1 && options.queueLengthMax >= 1);
  }

  submit(request: T): Promise<R> {
    if (this.closed) return Promise.reject(new BatcherOverloadedError('the batcher is shutting down'));
    if (this.queue.length >= this.options.queueLengthMax) {
      return Promise.reject(
        new BatcherOverloadedError(`more than ${this.options.queueLengthMax} requests are waiting`),
      );
    }
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ request, resolve, reject });
      this.schedule();
    });
  }

  /** Requests waiting for a slot. */
  get queued(): number {
    return this.queue.length;
  }

  /** Refuses new requests and resolves when every accepted one is answered. */
  async close(): Promise<void> {
    this.closed = true;
    for (let rounds = 0; (this.queue.length > 0 || this.running > 0) && rounds < 60_000; rounds++) {
      this.dispatch();
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  private schedule(): void {
    if (this.queue.length >= this.options.batchSizeMax) {
      this.dispatch();
      return;
    }
    if (this.timer !== undefined) return;
    const fire = (): void => {
      this.timer = undefined;
      this.dispatch();
    };
    this.timer = this.options.lingerMs > 0 ? setTimeout(fire, this.options.lingerMs) : setTimeout(fire, 0);
  }

  private dispatch(): void {
    while (this.running < this.options.concurrencyMax && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.options.batchSizeMax);
      this.running++;
      void this.run(batch).finally(() => {
        this.running--;
        if (this.queue.length > 0) this.dispatch();
      });
    }
  }

  private async run(batch: readonly Waiting<T, R>[]): Promise<void> {
    let answers: readonly Settled<R>[];
    try {
      answers = await this.handle(batch.map((w) => w.request));
      assert.equal(answers.length, batch.length, 'a batch handler answers every request');
    } catch (error) {
      for (const waiting of batch) waiting.reject(error);
      return;
    }
    batch.forEach((waiting, index) => {
      const answer = answers[index];
      if (answer === undefined) waiting.reject(new Error('batch handler returned no answer'));
      else if (answer.ok) waiting.resolve(answer.value);
      else waiting.reject(answer.error);
    });
  }
}
