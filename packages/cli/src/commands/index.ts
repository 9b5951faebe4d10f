/**
 * Every command group, one registrar a line. A new service's commands are a
 * new file beside these and one line here.
 */
import type { Command } from 'commander';
import type { Runtime } from '../runtime';
import { register as accounts } from './accounts';
import { register as cashier } from './cashier';
import { register as channels } from './channels';
import { register as eod } from './eod';
import { register as health } from './health';
import { register as reconciliation } from './reconciliation';
import { register as settlement } from './settlement';
import { register as trace } from './trace';

export type Registrar = (program: Command, runtime: () => Runtime) => void;

export const REGISTRARS: readonly Registrar[] = [
  health,
  cashier,
  accounts,
  channels,
  eod,
  reconciliation,
  settlement,
  trace,
];
