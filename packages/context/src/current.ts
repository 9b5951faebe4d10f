/**
 * The context code of the work in progress, carried implicitly through async
 * calls with AsyncLocalStorage, so that loggers, outbox writers and outgoing
 * clients can pick it up without threading it through every signature.
 *
 * One module-level store: a second copy would make a code set by a server
 * interceptor invisible to a logger that imported the other copy.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { parseBizCode } from './biz-code';

const store = new AsyncLocalStorage<string>();

/**
 * Runs `fn` with `code` as the current context code (nested calls override it
 * for their own scope). The code's shape is checked so that garbage never
 * reaches logs and rows; whether it is known is the catalogue's job at the edge.
 */
export function runWithBizCode<T>(code: string, fn: () => T): T {
  parseBizCode(code);
  return store.run(code, fn);
}

export function currentBizCode(): string | undefined {
  return store.getStore();
}
