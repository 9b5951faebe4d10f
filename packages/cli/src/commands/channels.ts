/**
 * Channel commands: the registry (channel numbers and routes) and the
 * routing view that shows breaker state — `channels breakers` asks Route for
 * each pay channel of the registry and prints every candidate route with
 * whether it is eligible now and why not (an open circuit breaker,
 * maintenance, limits, caps).
 */
import type { Command } from 'commander';
import { proto } from '@paycore/client';
import { enumName } from '../output';
import type { Runtime } from '../runtime';
import { amountText, parseAmount } from './common';

const { ChannelProtocol, ChannelStatus } = proto.channelTypes;
const CHANNEL = 'paycore.channel.v1.ChannelService';
const PAY_CHANNELS_MAX = 100;

// eslint-disable-next-line max-lines-per-function -- a commander table of subcommands, one short entry each
export function register(program: Command, runtime: () => Runtime): void {
  const channels = program.command('channels').description('channel-router: registry and breaker state');
  channels
    .command('registry')
    .description('channel numbers and pay-channel routes')
    .action(async () => {
      const rt = runtime();
      const res = await rt.client([`${CHANNEL}/ListRegistry`]).channel.listRegistry({});
      const rows = [
        ...res.channelNumbers.map((c) => ({
          type: 'channel_no',
          channel_no: c.channelNo,
          pay_channel: '',
          name: c.name,
          protocol: enumName(ChannelProtocol, c.protocol, 'CHANNEL_PROTOCOL_'),
          status: enumName(ChannelStatus, c.status, 'CHANNEL_STATUS_'),
          detail: `${c.baseUrl}${c.hasCredentials ? '' : ' (no credentials)'}`,
        })),
        ...res.routes.map((r) => ({
          type: 'route',
          channel_no: r.channelNo,
          pay_channel: r.payChannel,
          name: '',
          protocol: '',
          status: enumName(ChannelStatus, r.status, 'CHANNEL_STATUS_'),
          detail: `fee ${r.feeRate} weight ${r.weight} priority ${r.priority}`,
        })),
      ];
      rt.print({ kind: 'rows', rows });
    });
  channels
    .command('breakers')
    .description(
      'every route of every pay channel: eligible now, or why not (breaker open, maintenance, limits)',
    )
    .option(
      '--code <bizCode>',
      'unrouted context code to route (default: instant pay of product 100101)',
      '10010101010000000000',
    )
    .option('--amount <yuan>', 'amount to route', (v) => parseAmount(v), parseAmount('1.00'))
    .option(
      '--merchant <merchantId>',
      'merchant to route for (routing rules may differ per merchant)',
      'paycore-cli',
    )
    .action(async (o: { code: string; amount: proto.common.Money; merchant: string }) => {
      const rt = runtime();
      const client = rt.client([`${CHANNEL}/ListRegistry`, `${CHANNEL}/Route`]);
      const registry = await client.channel.listRegistry({});
      const payChannels = [...new Set(registry.routes.map((r) => r.payChannel))].slice(0, PAY_CHANNELS_MAX);
      const rows = [];
      for (const payChannel of payChannels) {
        try {
          const res = await client.channel.route({
            bizContext: { code: o.code },
            amount: o.amount,
            merchantId: o.merchant,
            payChannel,
          });
          for (const c of res.candidates) {
            rows.push({
              pay_channel: c.payChannel,
              channel_no: c.channelNo,
              eligible: c.eligible,
              why: c.reason,
              fee: amountText(c.fee),
              chosen: c.channelNo === res.channelNo,
            });
          }
        } catch (err) {
          rows.push({
            pay_channel: payChannel,
            channel_no: '',
            eligible: false,
            why: (err as Error).message,
            fee: '',
            chosen: false,
          });
        }
      }
      rt.print({
        kind: 'rows',
        rows,
        columns: ['pay_channel', 'channel_no', 'eligible', 'chosen', 'why', 'fee'],
      });
    });
}
