// SQLite: a LIMIT or OFFSET that is a number goes into the SQL as a literal, never as a bound
// parameter. SQLite's planner reads a bound LIMIT's value, so binding one (better-sqlite3 binds
// every parameter on every run) expires the statement, and the next run parses and plans it
// again: the phone check's and the Verify v2 check's newest-verification lookup (`ORDER BY id
// DESC LIMIT 1`) cost 17-20 µs a run that way against 4-5 µs with `LIMIT 1` (bench, 1M rows).
// A LIMIT that is an argument of a prepared query (store/prepared.ts) stays bound: it is not a
// number when the query is compiled.
import { LimitNode, OffsetNode, OperationNodeTransformer, ValueNode, type KyselyPlugin, type OperationNode, type PluginTransformQueryArgs, type PluginTransformResultArgs, type QueryResult, type RootOperationNode, type UnknownRow } from 'kysely';

const literal = (node: OperationNode): OperationNode | undefined =>
  ValueNode.is(node) && !node.immediate && typeof node.value === 'number' && Number.isSafeInteger(node.value) ? ValueNode.createImmediate(node.value) : undefined;

class LimitsAsLiterals extends OperationNodeTransformer {
  protected override transformLimit(node: LimitNode): LimitNode {
    const value = literal(node.limit);
    return value ? LimitNode.create(value) : super.transformLimit(node);
  }

  protected override transformOffset(node: OffsetNode): OffsetNode {
    const value = literal(node.offset);
    return value ? OffsetNode.create(value) : super.transformOffset(node);
  }
}

export class LiteralLimits implements KyselyPlugin {
  private readonly transformer = new LimitsAsLiterals();

  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    return this.transformer.transformNode(args.node);
  }

  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return args.result;
  }
}
