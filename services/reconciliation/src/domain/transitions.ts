/**
 * Transition tables (the shape of the platform's `@paycore/platform/domain`
 * TransitionTable): for each state, the states it may move to.
 */
export type TransitionTable<S extends string> = Readonly<Record<S, readonly S[]>>;

/** The states from which `to` may be reached; a state nothing reaches is a programmer error. */
export function fromStatesOf<S extends string>(table: TransitionTable<S>, to: S): S[] {
  const from = (Object.keys(table) as S[]).filter((state) => table[state].includes(to));
  if (from.length === 0) throw new Error(`no state moves to ${to}`);
  return from;
}

export function canTransition<S extends string>(table: TransitionTable<S>, from: S, to: S): boolean {
  return table[from].includes(to);
}
