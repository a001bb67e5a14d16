// GetFlows field masks: validate the paths against flow.Flow and copy only the masked fields of each flow.
import { ScalarType, type DescField, type DescMessage } from '@bufbuild/protobuf';
import { Flow } from '../api/flow/flow.js';
import { propertyName, protoJsonRegistry } from '../protojson/protojson.js';

/** A request problem the API reports as INVALID_ARGUMENT. */
export class FieldMaskError extends Error {
  override readonly name = 'FieldMaskError';
}

/** Masked fields as a tree of generated property names; `null` marks a field kept whole. */
type MaskTree = Map<string, MaskTree | null>;

export { propertyName } from '../protojson/protojson.js';

export class FlowFieldMask {
  private constructor(private readonly tree: MaskTree) {}

  /** Compiles mask paths ("source.identity", "l4.TCP.flags"); an empty list means no mask. */
  static compile(paths: readonly string[]): FlowFieldMask | undefined {
    if (paths.length === 0) return undefined;
    const flowDesc = protoJsonRegistry().getMessage('flow.Flow');
    if (flowDesc === undefined) throw new Error('descriptor set lacks flow.Flow');
    const tree: MaskTree = new Map();
    for (const path of paths) addPath(tree, flowDesc, path);
    return new FlowFieldMask(tree);
  }

  /** A new Flow holding only the masked fields; everything else keeps its default value. */
  apply(flow: Flow): Flow {
    return Flow.fromPartial(pick(this.tree, flow as unknown as Record<string, unknown>) as Partial<Flow>);
  }
}

function addPath(tree: MaskTree, root: DescMessage, path: string): void {
  const parts = path.split('.');
  let desc: DescMessage | undefined = root;
  let node = tree;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    const field: DescField | undefined = desc?.fields.find((f) => f.name === part);
    if (desc === undefined || field === undefined) {
      throw new FieldMaskError(
        `field mask path "${path}": flow.Flow has no field "${parts.slice(0, i + 1).join('.')}"`,
      );
    }
    const key = propertyName(field.name, field.jsonName);
    const last = i === parts.length - 1;
    if (last) {
      node.set(key, null); // a whole field wins over any deeper path into it
      return;
    }
    if (field.fieldKind !== 'message') {
      const kind = field.fieldKind === 'scalar' ? ScalarType[field.scalar].toLowerCase() : field.fieldKind;
      throw new FieldMaskError(`field mask path "${path}": "${part}" is a ${kind}, it has no sub-fields`);
    }
    const existing = node.get(key);
    if (existing === null) return; // already kept whole
    const next: MaskTree = existing ?? new Map();
    node.set(key, next);
    node = next;
    desc = field.message;
  }
}

function pick(tree: MaskTree, src: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, sub] of tree) {
    const value = src[key];
    if (value === undefined) continue;
    out[key] = sub === null ? value : pick(sub, value as Record<string, unknown>);
  }
  return out;
}
