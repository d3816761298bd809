// PostgreSQL ends one side of a deadlock (40P01) or a serialization failure (40001) so that the
// others can go on. What it ended changed nothing, and its documented answer is to run it again.

/** Tries in all, first run included; a conflict that comes back five times is not chance. */
const TRIES = 5;

/** Whether PostgreSQL ended this transaction to let another go on. */
function wasEndedForAnother(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  return code === '40P01' || code === '40001';
}

/** Runs `work`, a whole transaction, again when PostgreSQL ended it for another. */
export async function rerunIfEndedForAnother<T>(work: () => Promise<T>): Promise<T> {
  for (let tries = 1; ; tries++) {
    try {
      return await work();
    } catch (err) {
      if (tries >= TRIES || !wasEndedForAnother(err)) throw err;
    }
  }
}
