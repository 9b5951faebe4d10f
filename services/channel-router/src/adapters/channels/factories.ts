/** The protocol adapters channel-router ships with, as the factory registry the application is given. */
import type { ChannelAdapterFactories } from '../../application/ports';
import { AlipayAdapter } from './alipay';
import { BankAdapter } from './bank';
import { WechatAdapter } from './wechat';

export const CHANNEL_ADAPTERS: ChannelAdapterFactories = {
  ALIPAY: (credentials, settings) => new AlipayAdapter(credentials, settings),
  WECHAT: (credentials, settings) => new WechatAdapter(credentials, settings),
  BANK: (credentials, settings) => new BankAdapter(credentials, settings),
};
