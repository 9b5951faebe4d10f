/**
 * Proves the shared peer-call helpers: a service address comes from the
 * explicit setting, else the endpoints file, else start-up fails naming the
 * peer; a failed call is transient (no status, or one of the six statuses
 * that say nothing about the request) or a refusal carrying the peer's
 * ErrorInfo reason (UNKNOWN when it sent none), with the messages services
 * put in their errors.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { expect } from 'chai';
import { ApiError, toServiceError } from '../errors';
import { isTransientCallFailure, peerCallError, serviceAddress, TRANSIENT_GRPC_CODES } from './peers';

class Unavailable extends Error {}
class Refused extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}
const failures = {
  unavailable: (message: string) => new Unavailable(message),
  refused: (reason: string, message: string) => new Refused(reason, message),
};

describe('peer calls: addresses and failures', () => {
  it('resolves an address from the setting, else the endpoints file, else refuses to start', () => {
    const dir = mkdtempSync(join(tmpdir(), 'peers-'));
    try {
      const file = join(dir, 'endpoints.json');
      writeFileSync(file, JSON.stringify({ account: '127.0.0.1:7001', ledger: '' }));
      expect(serviceAddress('account', '10.0.0.1:50051', file)).to.equal('10.0.0.1:50051');
      expect(serviceAddress('account', undefined, file)).to.equal('127.0.0.1:7001');
      expect(() => serviceAddress('ledger', undefined, file)).to.throw(/ledger address is unknown/);
      expect(() => serviceAddress('cashier', undefined, file)).to.throw(/cashier address is unknown/);
      expect(() => serviceAddress('cashier', undefined, undefined)).to.throw(/ENDPOINTS_FILE/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('maps a failure without a status and every transient status to unavailable', () => {
    expect(TRANSIENT_GRPC_CODES.size).to.equal(6);
    const plain = peerCallError('account', 'Transfer', new Error('socket hang up'), failures);
    expect(plain).to.be.instanceOf(Unavailable);
    expect(plain.message).to.equal('account Transfer failed: socket hang up');
    for (const code of TRANSIENT_GRPC_CODES) {
      const err = Object.assign(new Error(`code ${code}`), { code });
      expect(isTransientCallFailure(err), `code ${code}`).to.equal(true);
      expect(peerCallError('ledger', 'Close', err, failures)).to.be.instanceOf(Unavailable);
    }
    expect(isTransientCallFailure('not an error')).to.equal(true);
  });

  it("maps a refusal to the service's error with the peer's reason", () => {
    const { serviceError } = toServiceError(
      new ApiError('FAILED_PRECONDITION', 'INSUFFICIENT_BALANCE', 'not enough'),
      'paycore.account',
    );
    // What a client sees: an Error carrying the status, its details and trailers.
    const received = Object.assign(new Error(serviceError.details), serviceError);
    expect(received.code).to.equal(GrpcStatus.FAILED_PRECONDITION);
    expect(isTransientCallFailure(received)).to.equal(false);
    const refused = peerCallError('account', 'TryTransfer', received, failures);
    expect(refused).to.be.instanceOf(Refused);
    expect(refused).to.include({ reason: 'INSUFFICIENT_BALANCE' });
    expect(refused.message).to.match(/^account TryTransfer refused: /);
    const bare = Object.assign(new Error('no details'), { code: GrpcStatus.NOT_FOUND });
    expect(peerCallError('account', 'GetAccount', bare, failures)).to.include({ reason: 'UNKNOWN' });
  });
});
