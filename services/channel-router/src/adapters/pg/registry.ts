/** The channel registry: channel numbers (with sealed credentials) and routes. */
import type { RegistryRepo } from '../../application/ports';
import type { ChannelNumberConfig, RouteConfig } from '../../domain/model';
import {
  REGISTRY_ROWS_MAX,
  ROUTE_COLUMNS,
  toChannel,
  toRoute,
  type ChannelRow,
  type RouteRow,
  type Sql,
} from './rows';

const CHANNEL_COLUMNS = `channel_no, name, protocol, status, base_url, close_after_seconds,
  credentials_sealed IS NOT NULL AS has_credentials`;

export class PgRegistry implements RegistryRepo {
  constructor(private readonly sql: Sql) {}

  async upsertChannelNumber(channel: ChannelNumberConfig): Promise<void> {
    await this.sql.query(
      `INSERT INTO channel_numbers (channel_no, name, protocol, status, base_url, close_after_seconds)
       VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (channel_no) DO UPDATE SET name = EXCLUDED.name, protocol = EXCLUDED.protocol,
         status = EXCLUDED.status, base_url = EXCLUDED.base_url,
         close_after_seconds = EXCLUDED.close_after_seconds, updated_at = now()`,
      [
        channel.channelNo,
        channel.name,
        channel.protocol,
        channel.status,
        channel.baseUrl,
        channel.closeAfterSeconds,
      ],
    );
  }

  async setCredentials(channelNo: string, sealed: Buffer): Promise<boolean> {
    const rows = await this.sql.query(
      `UPDATE channel_numbers SET credentials_sealed = $2, updated_at = now() WHERE channel_no = $1 RETURNING channel_no`,
      [channelNo, sealed],
    );
    return rows.length === 1;
  }

  async sealedCredentials(channelNo: string): Promise<Buffer | undefined> {
    const rows = await this.sql.query<{ credentials_sealed: Buffer | null }>(
      'SELECT credentials_sealed FROM channel_numbers WHERE channel_no = $1',
      [channelNo],
    );
    return rows[0]?.credentials_sealed ?? undefined;
  }

  async channelNumber(channelNo: string): Promise<ChannelNumberConfig | undefined> {
    const rows = await this.sql.query<ChannelRow>(
      `SELECT ${CHANNEL_COLUMNS} FROM channel_numbers WHERE channel_no = $1`,
      [channelNo],
    );
    return rows[0] === undefined ? undefined : toChannel(rows[0]);
  }

  async channelNumbers(): Promise<ChannelNumberConfig[]> {
    const rows = await this.sql.query<ChannelRow>(
      `SELECT ${CHANNEL_COLUMNS} FROM channel_numbers ORDER BY channel_no LIMIT ${REGISTRY_ROWS_MAX}`,
    );
    return rows.map(toChannel);
  }

  async upsertRoute(route: RouteConfig): Promise<void> {
    await this.sql.query(
      `INSERT INTO routes (pay_channel, channel_no, fee_rate, rounding_mode, currency, min_amount, max_amount,
         daily_cap, weight, priority, status, maintenance_windows, supported_actions)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb, $13)
       ON CONFLICT (pay_channel, channel_no) DO UPDATE SET fee_rate = EXCLUDED.fee_rate,
         rounding_mode = EXCLUDED.rounding_mode, currency = EXCLUDED.currency, min_amount = EXCLUDED.min_amount,
         max_amount = EXCLUDED.max_amount, daily_cap = EXCLUDED.daily_cap, weight = EXCLUDED.weight,
         priority = EXCLUDED.priority, status = EXCLUDED.status,
         maintenance_windows = EXCLUDED.maintenance_windows, supported_actions = EXCLUDED.supported_actions,
         updated_at = now()`,
      [
        route.payChannel,
        route.channelNo,
        route.feeRate,
        route.roundingMode,
        route.currency,
        route.minAmount,
        route.maxAmount,
        route.dailyCap,
        route.weight,
        route.priority,
        route.status,
        JSON.stringify(route.maintenanceWindows),
        route.supportedActions,
      ],
    );
  }

  async routes(): Promise<RouteConfig[]> {
    const rows = await this.sql.query<RouteRow>(
      `SELECT ${ROUTE_COLUMNS} FROM routes ORDER BY pay_channel, channel_no LIMIT ${REGISTRY_ROWS_MAX}`,
    );
    return rows.map(toRoute);
  }

  async route(payChannel: string, channelNo: string): Promise<RouteConfig | undefined> {
    const rows = await this.sql.query<RouteRow>(
      `SELECT ${ROUTE_COLUMNS} FROM routes WHERE pay_channel = $1 AND channel_no = $2`,
      [payChannel, channelNo],
    );
    return rows[0] === undefined ? undefined : toRoute(rows[0]);
  }
}
