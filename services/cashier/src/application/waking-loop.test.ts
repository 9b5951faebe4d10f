/**
 * The notifier's loop sleeps exactly until its next work is due, goes again
 * at once after a full pass, waits the backstop when nothing is due or a
 * pass failed, and ends when stopped: the wake it waits on is scripted, so
 * every sleep it asks for is seen.
 */
import { expect } from 'chai';
import pino from 'pino';
import { WakingLoop, type LoopWake, type PassOutcome } from './workers';

const NOW_MS = 1_700_000_000_000;

/** A wake whose waits end at once (a signal) and that records the sleep each asked for. */
class ScriptedWake implements LoopWake {
  readonly waits: (number | undefined)[] = [];
  private closed = false;

  wait(timeoutMs?: number): Promise<'signal' | 'backstop' | 'closed'> {
    this.waits.push(timeoutMs);
    return Promise.resolve(this.closed ? 'closed' : 'signal');
  }

  close(): void {
    this.closed = true;
  }
}

async function runPasses(outcomes: readonly (PassOutcome | Error)[]): Promise<ScriptedWake> {
  const wake = new ScriptedWake();
  let passes = 0;
  let loop: WakingLoop | undefined;
  const finished = new Promise<void>((resolve) => {
    loop = new WakingLoop(
      'test',
      wake,
      () => {
        const outcome = outcomes[passes++];
        if (outcome === undefined) {
          // Script done: stop (the stop closes the wake, so the wait after this pass ends the loop).
          void loop?.stop().then(resolve);
          return Promise.resolve({ again: false, nextDueAt: undefined });
        }
        return outcome instanceof Error ? Promise.reject(outcome) : Promise.resolve(outcome);
      },
      pino({ level: 'silent' }),
      () => NOW_MS,
    );
  });
  loop?.start();
  await finished;
  expect(passes, 'every scripted pass ran, then the one that stopped').to.equal(outcomes.length + 1);
  return wake;
}

describe('notifier loop', () => {
  it('sleeps until the next due time, never less than 20 ms', async () => {
    const wake = await runPasses([
      { again: false, nextDueAt: new Date(NOW_MS + 1_250) },
      { again: false, nextDueAt: new Date(NOW_MS - 5_000) },
    ]);
    expect(wake.waits.slice(0, 2)).to.deep.equal([1_250, 20]);
  });

  it('goes again without sleeping after a full pass', async () => {
    const wake = await runPasses([
      { again: true, nextDueAt: new Date(NOW_MS + 900) },
      { again: true, nextDueAt: undefined },
      { again: false, nextDueAt: new Date(NOW_MS + 900) },
    ]);
    expect(wake.waits.slice(0, 1), 'one sleep for three passes').to.deep.equal([900]);
    expect(wake.waits).to.have.length(2);
  });

  it('waits the backstop when nothing is due and after a failed pass', async () => {
    const wake = await runPasses([
      { again: false, nextDueAt: undefined },
      new Error('Postgres went away'),
      { again: false, nextDueAt: new Date(NOW_MS + 40) },
    ]);
    expect(wake.waits.slice(0, 3)).to.deep.equal([undefined, undefined, 40]);
  });
});
