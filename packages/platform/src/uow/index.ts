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
  type EntityStates,
  type TransitionResult,
} from './unit-of-work';
export {
  canonicalRequestHash,
  canonicalText,
  fieldHashes,
  firstDifferingField,
  toStoredJson,
  fromStoredJson,
} from './canonical';
