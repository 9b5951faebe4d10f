/**
 * Every timer the sandbox starts goes through here, so `stop()` can cancel
 * them all (no stray notification after a test ends) and so every channel
 * duration is divided by the time scale in one place.
 */
export class Timers {
  private readonly pending = new Set<NodeJS.Timeout>();
  private readonly sleepers = new Set<() => void>();
  private stopped = false;

  constructor(readonly timeScale: number) {}

  /** A real-world channel duration shrunk by the time scale (never below 1 ms). */
  scaled(realMs: number): number {
    return Math.max(1, Math.round(realMs / this.timeScale));
  }

  /** Runs `task` after `delayMs` (already scaled by the caller) unless stopped first. */
  after(delayMs: number, task: () => void): void {
    if (this.stopped) return;
    const timer = setTimeout(() => {
      this.pending.delete(timer);
      task();
    }, delayMs);
    this.pending.add(timer);
  }

  /** Resolves after `delayMs`, or at once when the sandbox stops. */
  sleep(delayMs: number): Promise<void> {
    if (this.stopped || delayMs <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = (): void => {
        this.sleepers.delete(wake);
        resolve();
      };
      this.sleepers.add(wake);
      this.after(delayMs, wake);
    });
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.pending) clearTimeout(timer);
    this.pending.clear();
    for (const wake of [...this.sleepers]) wake();
  }
}

const CHINA_OFFSET_MS = 8 * 3_600_000;

/** `YYYY-MM-DD HH:mm:ss` in China time (UTC+8, no daylight saving). */
export function chinaDateTime(epochMs: number): string {
  return new Date(epochMs + CHINA_OFFSET_MS).toISOString().slice(0, 19).replace('T', ' ');
}

/** `YYYY-MM-DD` in China time. */
export function chinaDate(epochMs: number): string {
  return chinaDateTime(epochMs).slice(0, 10);
}

/** `yyyyMMddHHmmss` in China time, WeChat's `time_end` format. */
export function chinaCompactDateTime(epochMs: number): string {
  return chinaDateTime(epochMs).replace(/[- :]/g, '');
}
