export { settlementSpec } from './service';
