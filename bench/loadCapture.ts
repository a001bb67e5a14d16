// Makes the benchmark's input: a pcap of at least N packets of real loopback load, captured by tcpdump.
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';

/** Mixed TCP (connections with request/response payloads) and UDP load on 127.0.0.1 until tcpdump has N packets. */
export async function ensureLoadCapture(path: string, packets: number, log: (line: string) => void): Promise<void> {
  if (existsSync(path) && statSync(path).size > packets * 40) return;
  mkdirSync(dirname(path), { recursive: true });
  const partial = `${path}.partial`;
  log(`making ${path}: capturing ${packets} packets of loopback load with tcpdump (once; reused later)`);

  const tcpServer: Server = createServer((sock) => {
    sock.on('data', (d) => sock.write(d.subarray(0, Math.min(d.length, 512))));
    sock.on('error', () => undefined);
  });
  await new Promise<void>((r) => tcpServer.listen(0, '127.0.0.1', r));
  const tcpPort = (tcpServer.address() as { port: number }).port;
  const udpSink = createSocket('udp4');
  await new Promise<void>((r) => udpSink.bind(0, '127.0.0.1', r));
  const udpPort = udpSink.address().port;

  const filter = `host 127.0.0.1 and (port ${tcpPort} or port ${udpPort})`;
  const tcpdump = spawn('tcpdump', ['-i', 'lo', '-n', '-B', '65536', '-c', String(packets), '-w', partial, filter], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  tcpdump.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => tcpdump.once('exit', r));
  await new Promise((r) => setTimeout(r, 1000)); // tcpdump attaches its filter

  let running = true;
  void exited.then(() => (running = false));
  const udp = createSocket('udp4');
  const payload = Buffer.alloc(64, 0x61);
  const sendUdp = async () => {
    while (running) {
      for (let i = 0; i < 8; i++) udp.send(payload, udpPort, '127.0.0.1');
      await new Promise((r) => setImmediate(r));
    }
  };
  const tcpClient = async () => {
    while (running) {
      const sock: Socket = connect(tcpPort, '127.0.0.1');
      await new Promise<void>((resolve) => {
        let replies = 0;
        sock.on('connect', () => sock.write(payload));
        sock.on('data', () => (++replies < 20 && running ? sock.write(payload) : sock.end()));
        sock.on('close', () => resolve());
        sock.on('error', () => resolve());
      });
    }
  };
  await Promise.all([sendUdp(), ...Array.from({ length: 16 }, tcpClient), exited]);
  udp.close();
  udpSink.close();
  tcpServer.close();
  const code = await exited;
  if (code !== 0) throw new Error(`tcpdump failed (exit ${code}): ${stderr.trim()}`);
  renameSync(partial, path);
}
