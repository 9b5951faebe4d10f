/**
 * The generated message types and enums of every paycore service, for
 * building requests and reading responses: `proto.cashier.PartKind`,
 * `proto.cashier.PaymentOrder`, ...
 */
export * as account from '@paycore/proto/paycore/account/v1/account_service';
export * as storedValue from '@paycore/proto/paycore/account/v1/stored_value_service';
export * as accountEvents from '@paycore/proto/paycore/account/v1/events';
export * as cashier from '@paycore/proto/paycore/cashier/v1/cashier_service';
export * as cashierEvents from '@paycore/proto/paycore/cashier/v1/events';
export * as channel from '@paycore/proto/paycore/channel/v1/channel_service';
export * as channelTypes from '@paycore/proto/paycore/channel/v1/types';
export * as channelEvents from '@paycore/proto/paycore/channel/v1/events';
export * as ledger from '@paycore/proto/paycore/ledger/v1/ledger_service';
export * as ledgerEvents from '@paycore/proto/paycore/ledger/v1/events';
export * as reconciliation from '@paycore/proto/paycore/reconciliation/v1/reconciliation_service';
export * as reconciliationEvents from '@paycore/proto/paycore/reconciliation/v1/events';
export * as settlement from '@paycore/proto/paycore/settlement/v1/settlement_service';
export * as common from '@paycore/proto/paycore/common/v1/money';
export * as paging from '@paycore/proto/paycore/common/v1/paging';
export * as bizContext from '@paycore/proto/paycore/common/v1/biz_context';
