/**
 * channel-router's in-process metrics (prom-client, on the service's
 * registry): channel calls by channel number, operation and outcome with a
 * latency histogram (a decorator around every adapter the factories build),
 * each circuit breaker's state (read at scrape time), and callbacks whose
 * signature or channel could not be verified.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type {
  AdapterSettings,
  ChannelAdapter,
  ChannelAdapterFactories,
  ChannelOutcome,
} from '../application/ports';
import type { BreakerBoard, BreakerState } from '../domain/breaker';

export type ChannelOperation = keyof ChannelAdapter;

/** Gauge values of channel_breaker_state. */
export const BREAKER_STATE_VALUE: Readonly<Record<BreakerState, number>> = {
  CLOSED: 0,
  HALF_OPEN: 1,
  OPEN: 2,
};

export interface RouterMetrics {
  readonly calls: Counter<'channel_no' | 'operation' | 'outcome'>;
  readonly callSeconds: Histogram<'channel_no' | 'operation'>;
  readonly unverifiedCallbacks: Counter<'channel_no' | 'reason'>;
}

export function createRouterMetrics(registry: Registry, breakers: BreakerBoard): RouterMetrics {
  new Gauge({
    name: 'channel_breaker_state',
    help: 'Circuit breaker of each channel number: 0 closed, 1 half-open (probing), 2 open (routing skips it).',
    labelNames: ['channel_no'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [channelNo, state] of breakers.states())
        this.set({ channel_no: channelNo }, BREAKER_STATE_VALUE[state]);
    },
  });
  return {
    calls: new Counter({
      name: 'channel_calls_total',
      help: 'Calls to channels by channel number, operation and outcome (the state answered, NO_STATE, UNHEALTHY or ERROR).',
      labelNames: ['channel_no', 'operation', 'outcome'],
      registers: [registry],
    }),
    callSeconds: new Histogram({
      name: 'channel_call_duration_seconds',
      help: 'Latency of calls to channels, seconds, from request to verified answer (or timeout).',
      labelNames: ['channel_no', 'operation'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    unverifiedCallbacks: new Counter({
      name: 'channel_callback_unverified_total',
      help: 'Channel callbacks that could not be verified (unknown channel, malformed, bad signature); only a bounded sample is stored.',
      labelNames: ['channel_no', 'reason'],
      registers: [registry],
    }),
  };
}

function outcomeLabel(result: unknown): string {
  if (typeof result !== 'object' || result === null || !('healthy' in result)) return 'OK';
  const outcome = result as ChannelOutcome;
  if (!outcome.healthy) return 'UNHEALTHY';
  return outcome.state ?? 'NO_STATE';
}

/** Wraps an adapter so every call is counted and timed under its channel number. */
export function meteredAdapter(
  adapter: ChannelAdapter,
  channelNo: string,
  metrics: RouterMetrics,
): ChannelAdapter {
  const timed =
    <A extends unknown[], R>(operation: ChannelOperation, fn: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      const stop = metrics.callSeconds.startTimer({ channel_no: channelNo, operation });
      try {
        const result = await fn(...args);
        metrics.calls.inc({ channel_no: channelNo, operation, outcome: outcomeLabel(result) });
        return result;
      } catch (err) {
        metrics.calls.inc({ channel_no: channelNo, operation, outcome: 'ERROR' });
        throw err;
      } finally {
        stop();
      }
    };
  return {
    createPayment: timed('createPayment', adapter.createPayment.bind(adapter)),
    queryPayment: timed('queryPayment', adapter.queryPayment.bind(adapter)),
    closePayment: timed('closePayment', adapter.closePayment.bind(adapter)),
    refund: timed('refund', adapter.refund.bind(adapter)),
    queryRefund: timed('queryRefund', adapter.queryRefund.bind(adapter)),
    createPayout: timed('createPayout', adapter.createPayout.bind(adapter)),
    queryPayout: timed('queryPayout', adapter.queryPayout.bind(adapter)),
    downloadBill: timed('downloadBill', adapter.downloadBill.bind(adapter)),
  };
}

/** The same factories, each adapter they build wrapped by `meteredAdapter`. */
export function meteredFactories(
  factories: ChannelAdapterFactories,
  metrics: RouterMetrics,
): ChannelAdapterFactories {
  const wrap = (settings: AdapterSettings, adapter: ChannelAdapter): ChannelAdapter =>
    meteredAdapter(adapter, settings.channelNo, metrics);
  return {
    ALIPAY: (credentials, settings) => wrap(settings, factories.ALIPAY(credentials, settings)),
    WECHAT: (credentials, settings) => wrap(settings, factories.WECHAT(credentials, settings)),
    BANK: (credentials, settings) => wrap(settings, factories.BANK(credentials, settings)),
  };
}
