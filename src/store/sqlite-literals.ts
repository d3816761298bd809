// SQLite: the constants a prepared query is built with (store/prepared.ts) go into its SQL as
// literals, not as bound parameters. SQLite's planner reads some bound values: a LIMIT's, and, in a
// query that could use a partial index, one compared with its condition's column (`status =
// 'pending'`, migration 0031). A statement whose plan read one is expired whenever it is bound
// again, and better-sqlite3 binds every parameter on every run: each run parsed and planned it
// anew. Loops of 20,000 runs: the newest-verification lookup (`ORDER BY id DESC LIMIT ?`) 17-23 µs
// a run against 4-9 with `LIMIT 1`; a lookup by service and destination with `status = ?` 18-19
// against 6-12.
// Only strings and finite numbers the code wrote: a query's arguments stay bound, and so does any
// value Kysely would not write as a literal.
import { OperationNodeTransformer, ValueNode, type KyselyPlugin, type PluginTransformQueryArgs, type PluginTransformResultArgs, type QueryResult, type RootOperationNode, type UnknownRow } from 'kysely';

class ConstantsAsLiterals extends OperationNodeTransformer {
  constructor(private readonly args: ReadonlySet<unknown>) {
    super();
  }

  protected override transformValue(node: ValueNode): ValueNode {
    const v = node.value;
    const constant = !node.immediate && !this.args.has(v) && (typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v)));
    return constant ? ValueNode.createImmediate(v) : super.transformValue(node);
  }
}

/** A plugin for one compile: every value but `args` (the query's placeholders) written as a literal. */
export function constantsAsLiterals(args: readonly unknown[]): KyselyPlugin {
  const transformer = new ConstantsAsLiterals(new Set(args));
  return {
    transformQuery: (a: PluginTransformQueryArgs): RootOperationNode => transformer.transformNode(a.node),
    transformResult: async (a: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> => a.result,
  };
}
