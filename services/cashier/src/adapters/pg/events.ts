/** The cashier's events, encoded and written to the outbox in the caller's transaction. */
import type { EventNaming, SqlTx } from '@paycore/platform';
import {
  MerchantRegistered,
  PaymentClosed,
  PaymentSucceeded,
  RefundSucceeded,
} from '@paycore/proto/paycore/cashier/v1/events';
import { CURRENCY } from '../../domain/model';
import type { CashierEvents } from '../../application/ports';
import type { MerchantRecord, OrderRecord, PaymentRecord, RefundRecord } from '../../application/records';
import { toMerchant, toOrder, toPayment, toRefund } from '../grpc/mapping';

export class PgCashierEvents implements CashierEvents {
  constructor(
    private readonly sql: SqlTx,
    private readonly naming: EventNaming,
  ) {}

  async merchantRegistered(merchant: MerchantRecord): Promise<void> {
    await this.sql.publish({
      subject: this.naming.subject('cashier', 'merchant_registered'),
      payload: MerchantRegistered.encode({
        merchant: toMerchant(merchant),
        currency: CURRENCY,
        openingBalance: { amountMinor: 0n, currency: CURRENCY },
        registeredAt: merchant.createdAt,
      }).finish(),
    });
  }

  async paymentSucceeded(order: OrderRecord, payment: PaymentRecord): Promise<void> {
    await this.sql.publish({
      subject: this.naming.subject('cashier', 'payment_succeeded'),
      payload: PaymentSucceeded.encode({
        order: toOrder(order),
        payment: toPayment(payment, order.currency),
        bizCode: order.bizCode,
      }).finish(),
      headers: { 'Biz-Context': order.bizCode },
    });
  }

  async paymentClosed(order: OrderRecord, cause: string): Promise<void> {
    await this.sql.publish({
      subject: this.naming.subject('cashier', 'payment_closed'),
      payload: PaymentClosed.encode({ order: toOrder(order), cause, bizCode: order.bizCode }).finish(),
      headers: { 'Biz-Context': order.bizCode },
    });
  }

  async refundSucceeded(refund: RefundRecord): Promise<void> {
    await this.sql.publish({
      subject: this.naming.subject('cashier', 'refund_succeeded'),
      payload: RefundSucceeded.encode({
        refund: toRefund(refund),
        merchantId: refund.merchantId,
        bizCode: refund.bizCode,
      }).finish(),
      headers: { 'Biz-Context': refund.bizCode },
    });
  }
}
