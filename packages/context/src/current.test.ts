/**
 * Proves the current context code is isolated per async task: 50 concurrent
 * tasks, each under its own code, interleave through timers, microtasks and
 * setImmediate and each always sees its own code; nesting overrides and then
 * restores; outside any task there is no code; malformed codes are refused.
 */
import { expect } from 'chai';
import { setTimeout as sleep } from 'node:timers/promises';
import { ContextError, currentBizCode, runWithBizCode } from './index';

const codeFor = (index: number): string => `100101010100010${String(index).padStart(5, '0')}`;

describe('current context code (AsyncLocalStorage)', () => {
  it('is undefined outside any task', () => {
    expect(currentBizCode()).to.equal(undefined);
  });

  it('keeps concurrent tasks isolated across awaits', async () => {
    const seen: string[][] = [];
    const tasks = Array.from({ length: 50 }, (_, index) =>
      runWithBizCode(codeFor(index), async () => {
        const observed: string[] = [];
        for (let step = 0; step < 5; step += 1) {
          // Different delays per task force interleaving in a different order each step.
          await sleep((index * 7 + step * 13) % 5);
          observed.push(currentBizCode() ?? 'none');
          await new Promise<void>((resolve) => setImmediate(resolve));
          await Promise.resolve();
          observed.push(currentBizCode() ?? 'none');
        }
        seen[index] = observed;
      }),
    );
    expect(currentBizCode()).to.equal(undefined);
    await Promise.all(tasks);
    seen.forEach((observed, index) => {
      expect(observed).to.have.length(10);
      expect(new Set(observed), `task ${index}`).to.deep.equal(new Set([codeFor(index)]));
    });
  });

  it('lets a nested run override the code and restores it after', async () => {
    await runWithBizCode(codeFor(1), async () => {
      const inner = await runWithBizCode(codeFor(2), async () => {
        await sleep(1);
        return currentBizCode();
      });
      expect(inner).to.equal(codeFor(2));
      expect(currentBizCode()).to.equal(codeFor(1));
    });
  });

  it('returns the function result synchronously for sync work', () => {
    expect(runWithBizCode(codeFor(3), () => currentBizCode())).to.equal(codeFor(3));
  });

  it('refuses a malformed code before running anything', () => {
    let ran = false;
    expect(() =>
      runWithBizCode('12345', () => {
        ran = true;
      }),
    ).to.throw(ContextError);
    expect(ran).to.equal(false);
  });
});
