/**
 * The services the client knows: one line each. `endpoint` is the service's
 * name in `.run/endpoints.json` / deploy/services.json; `alsoIdempotent`
 * lists mutations that are safe to retry although they carry no request_id
 * (upserts). Adding a service is one line here once its proto is generated.
 */
import { AccountServiceService } from '@paycore/proto/paycore/account/v1/account_service';
import { StoredValueServiceService } from '@paycore/proto/paycore/account/v1/stored_value_service';
import { CashierServiceService } from '@paycore/proto/paycore/cashier/v1/cashier_service';
import { ChannelServiceService } from '@paycore/proto/paycore/channel/v1/channel_service';
import { LedgerServiceService } from '@paycore/proto/paycore/ledger/v1/ledger_service';
import { ReconciliationServiceService } from '@paycore/proto/paycore/reconciliation/v1/reconciliation_service';
import { SettlementServiceService } from '@paycore/proto/paycore/settlement/v1/settlement_service';

export interface ServiceEntry<D extends object = object> {
  readonly definition: D;
  readonly endpoint: string;
  readonly alsoIdempotent?: readonly string[];
}

export const SERVICES = {
  account: { definition: AccountServiceService, endpoint: 'account' },
  /** Stored-value contracts and lots: served by the account process. */
  storedValue: { definition: StoredValueServiceService, endpoint: 'account' },
  ledger: { definition: LedgerServiceService, endpoint: 'ledger' },
  channel: {
    definition: ChannelServiceService,
    endpoint: 'channel-router',
    alsoIdempotent: ['upsertChannelNumber', 'setChannelCredentials', 'upsertPayChannelRoute'],
  },
  cashier: { definition: CashierServiceService, endpoint: 'cashier' },
  reconciliation: { definition: ReconciliationServiceService, endpoint: 'reconciliation' },
  settlement: { definition: SettlementServiceService, endpoint: 'settlement' },
} as const satisfies Record<string, ServiceEntry>;

export type ServiceName = keyof typeof SERVICES;
export const SERVICE_NAMES = Object.keys(SERVICES) as ServiceName[];
