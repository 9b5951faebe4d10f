/**
 * @paycore/context — the 20-digit business context code (四码一号): parsing
 * and routing, the catalogue of allowed codes, the current code of the work in
 * progress, and its propagation through gRPC, NATS, OTel and logs.
 * Pure except loadCatalogue, which reads its file once at start-up.
 */
export { ContextError, ContextErrorReason } from './errors';
export {
  BIZ_CODE_LENGTH,
  BIZ_CODE_PARTS,
  formatBizCode,
  isBizCodePart,
  isBizCodeShape,
  NO_CHANNEL_NO,
  parseBizCode,
  UNROUTED_PAY_CHANNEL,
  unroutedOf,
  withRoute,
} from './biz-code';
export type { BizCode, BizCodePart, BizCodeParts } from './biz-code';
export {
  BIZ_CATALOGUE_FILE_ENV,
  CATALOGUE_ENTRIES_MAX,
  CATALOGUE_FILE_BYTES_MAX,
  CATALOGUE_LABEL_LENGTH_MAX,
  CATALOGUE_VERSION,
  defaultCataloguePath,
  loadCatalogue,
  parseCatalogue,
} from './catalogue';
export type { BizCodeDescription, Catalogue, PartDescription } from './catalogue';
export { currentBizCode, runWithBizCode } from './current';
export {
  activeBizCode,
  BIZ_CODE_LOG_FIELD,
  BIZ_CODE_SPAN_ATTRIBUTE,
  BIZ_CONTEXT_BAGGAGE_KEY,
  BIZ_CONTEXT_GRPC_METADATA_KEY,
  BIZ_CONTEXT_NATS_HEADER,
  bizLogMixin,
  getBizBaggage,
  getGrpcBizCode,
  getNatsBizCode,
  setGrpcBizCode,
  setNatsBizCode,
  setSpanBizCode,
  withBizBaggage,
} from './propagation';
