export {
  createUnitOfWork,
  assertRequestId,
  SQL_NOW,
  type UnitOfWork,
  type UnitOfWorkOptions,
  type SqlTx,
  type TxPort,
  type IdempotentRequest,
  type Claim,
  type BatchClaim,
  type BatchTxPort,
  type Remembered,
  type UnitOfWorkTx,
  BATCH_CLAIMS_MAX,
  type EntityStates,
  type TransitionResult,
} from './unit-of-work';
export {
  canonicalRequestHash,
  canonicalText,
  fieldHashes,
  firstDifferingField,
  protoFieldPath,
  toStoredJson,
  fromStoredJson,
} from './canonical';
export { peekClaim, type ClaimingStore } from './peek';
