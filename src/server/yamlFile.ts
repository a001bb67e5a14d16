// Hand-written YAML files (the peers file, the endpoints inventory) read with errors that say file:line, where and
// what: the parse, the node lookups and the refusals their readers share.
import {
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  Scalar,
  type Document,
  type Node,
  type YAMLMap,
} from 'yaml';
import { ConfigError } from './config.js';

/** Why a file could not be read, in words. */
export function describeReadError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES') return 'permission denied';
  if (code === 'EISDIR') return 'it is a directory';
  return (err as Error).message;
}

/** What a node is, for "expected X, got Y". */
export function describeNode(node: Node | null): string {
  if (node === null) return 'nothing';
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) return node.value === null || node.value === '' ? 'nothing' : JSON.stringify(node.value);
  return 'something else';
}

/** A parsed file and the helpers its reader validates it with; every failure is a ConfigError naming the line. */
export abstract class YamlFileReader {
  protected readonly doc: Document;
  private readonly lines = new LineCounter();

  /** Parses `text`, refusing it at its first syntax error; `kind` ("peers file") and `file` name it in errors. */
  constructor(
    private readonly kind: string,
    protected readonly file: string,
    text: string,
  ) {
    this.doc = parseDocument(text, { lineCounter: this.lines });
    if (this.doc.errors.length > 0) {
      const e = this.doc.errors[0]!;
      const where = e.linePos?.[0] ? `:${e.linePos[0].line}` : '';
      throw new ConfigError(`${kind} ${file}${where}: ${e.message.split('\n')[0]!.replace(/:$/, '')}`);
    }
  }

  /** The node an alias stands for; null stays null. */
  protected resolve(node: Node | null | undefined): Node {
    if (node === null || node === undefined) return null as unknown as Node;
    return isAlias(node) ? (node.resolve(this.doc) as Node) : node;
  }

  /** The value under `key`: "key:" with nothing after it is a null scalar at the key's line, for errors. */
  protected get(map: YAMLMap, key: string): Node | undefined {
    for (const pair of map.items) {
      const k = pair.key as Node;
      if (!isScalar(k) || k.value !== key) continue;
      if (pair.value !== null) return this.resolve(pair.value as Node);
      const empty = new Scalar(null);
      empty.range = k.range;
      return empty;
    }
    return undefined;
  }

  protected checkKeys(map: YAMLMap, where: string, known: readonly string[]): void {
    for (const pair of map.items) {
      const k = pair.key as Node;
      const key = isScalar(k) ? String(k.value) : '(complex key)';
      if (!known.includes(key)) this.fail(k, where, `unknown key "${key}" (known: ${known.join(', ')})`);
    }
  }

  protected line(node: Node | null): number {
    const offset = node?.range?.[0];
    return offset === undefined ? 0 : this.lines.linePos(offset).line;
  }

  protected fail(node: Node | null, where: string, message: string): never {
    const line = this.line(node);
    throw new ConfigError(`${this.kind} ${this.file}${line > 0 ? `:${line}` : ''}: ${where}: ${message}`);
  }
}
