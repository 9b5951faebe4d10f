/**
 * @paycore/client — the typed client for paycore's gRPC services.
 *
 *   const paycore = createPaycoreClient({
 *     endpoints: loadEndpointsFile('.run/endpoints.json'),
 *     token: tokenFile('.run/dev-token'),
 *   });
 *   const { order } = await paycore.cashier.createPaymentOrder({ merchantId, merchantOrderNo, amount: cny(1999n), ... });
 *
 * See README.md for deadlines, retries, idempotency keys, tokens, errors and
 * notification verification.
 */
export {
  backoffMs,
  bindService,
  DEFAULT_DEADLINE_MS,
  DEFAULT_RETRY,
  type CallOptions,
  type CallSettings,
  type DeepPartial,
  type RequestInput,
  type RetryPolicy,
  type ServiceClient,
  type UnaryMethodDefinition,
} from './call';
export {
  createPaycoreClient,
  loadEndpointsFile,
  type Endpoints,
  type HealthState,
  type PaycoreClient,
  type PaycoreClientOptions,
} from './client';
export { assertBizCode, BIZ_CONTEXT_METADATA_KEY, isBizCodeShape } from './context-code';
export {
  decodeStatusDetails,
  PaycoreError,
  reasonOf,
  STATUS_DETAILS_METADATA_KEY,
  toPaycoreError,
  type FieldViolation,
  type GrpcCodeName,
} from './errors';
export * from './money';
export * from './notify';
export * from './generated/catalogue';
export { SERVICE_NAMES, SERVICES, type ServiceEntry, type ServiceName } from './services';
export {
  checkScopes,
  mintedToken,
  staticToken,
  tokenFile,
  type MintOptions,
  type TokenProvider,
} from './token';
export { newTraceparent, parseTraceparent, TRACEPARENT_METADATA_KEY, type TraceParent } from './trace';
export * as proto from './proto';
export {
  UPLOAD_CHUNK_BYTES,
  UPLOAD_DEADLINE_MS,
  type UploadStatement,
  type UploadStatementInput,
} from './upload';
