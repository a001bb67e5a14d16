// An Observer with L7 from packets on, fed Ethernet frames the way a capture source feeds it (FrameEventBuilder ->
// onCapturedFrame), for tests of what L7 flows the ring ends up holding.
import type { Flow } from '../../src/api/flow/flow.js';
import type { CapturedFrame } from '../../src/monitor/types.js';
import { Observer } from '../../src/observer/observer.js';
import { Parser } from '../../src/observer/parser/index.js';
import type { SevenParserOptions } from '../../src/observer/parser/seven/index.js';
import { FrameEventBuilder } from '../../src/source/frameEvent.js';
import { Direction, LinkType } from '../../src/source/linkTypes.js';

export interface L7Node {
  parser: Parser;
  observer: Observer;
  /** One frame on interface 1 (inbound unless said), captured `stepNs` after the one before. */
  send(frame: Uint8Array, direction?: Direction): void;
  /** Every flow the ring holds, as a reader gets it (each also encoded for GetFlows, as a stream would). */
  flows(): Flow[];
}

export function l7Node(options: { l7?: SevenParserOptions; ringCapacity?: number; stepNs?: number } = {}): L7Node {
  const parser = new Parser({
    nodeName: 'l7-node',
    clusterName: 'default',
    emitter: { name: 'hubble-ts', version: 'test' },
    l7: options.l7 ?? {},
  });
  const observer = new Observer({ parser, ringCapacity: options.ringCapacity ?? 4095, clusterName: 'default' });
  const builder = new FrameEventBuilder('l7-node');
  const target = {
    publish: () => undefined,
    publishFrame: (frame: CapturedFrame) => observer.onCapturedFrame(frame),
  };
  const stepNs = options.stepNs ?? 1_000_000;
  let seconds = 1_700_000_000;
  let nanos = 0;
  return {
    parser,
    observer,
    send(frame, direction = Direction.INBOUND) {
      nanos += stepNs;
      seconds += Math.floor(nanos / 1e9);
      nanos %= 1e9;
      builder.publish(target, frame, 0, frame.length, frame.length, LinkType.ETHERNET, direction, 1, seconds, nanos);
    },
    flows() {
      const ring = observer.ring;
      const out: Flow[] = [];
      for (let p = ring.positions.oldestPosition; p < ring.positions.writePosition; p++) {
        out.push(ring.flowAt(p));
        ring.responseAt(p);
      }
      return out;
    },
  };
}
