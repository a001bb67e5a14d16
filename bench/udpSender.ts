// The latency benchmark's traffic, its own process: RATE UDP datagrams a second to 127.0.0.1:PORT for SECONDS, paced
// per millisecond (a timer, not a spin: on two cores a sender that spins takes a whole core from the processes it
// measures) so the rate is steady, not bursts. Prints {"sent": N} at the end.
//
//   udpSender.ts PORT RATE SECONDS
import { createSocket } from 'node:dgram';

const [port, rate, seconds] = process.argv.slice(2).map(Number) as [number, number, number];
const socket = createSocket('udp4');
const payload = Buffer.alloc(64, 0x62);
const perMs = rate / 1000;
let sent = 0;
const start = performance.now();
const end = start + seconds * 1000;
await new Promise<void>((resolve) => {
  const tick = () => {
    const now = performance.now();
    if (now >= end) {
      resolve();
      return;
    }
    // Catch up to where the clock says we should be.
    const due = Math.floor((now - start) * perMs);
    for (; sent < due; sent++) socket.send(payload, port, '127.0.0.1');
    setTimeout(tick, 1);
  };
  tick();
});
socket.close();
process.stdout.write(JSON.stringify({ sent }) + '\n');
