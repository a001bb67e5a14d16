import { describe, expect, it } from 'vitest';
import { LiveCaptureSource } from '../../src/source/liveCapture.js';
import { PcapFileSource } from '../../src/source/pcapFile.js';
import { parseSourceSpec, SourceError } from '../../src/source/source.js';

const options = { nodeName: 'node-a' };

describe('parseSourceSpec', () => {
  it.each([
    ['pcap:/tmp/x.pcap', 'pcap:/tmp/x.pcap'],
    ['pcap:relative/dir/x.pcapng', 'pcap:relative/dir/x.pcapng'],
    ['pcap:/tmp/with:colon.pcap', 'pcap:/tmp/with:colon.pcap'],
    ['live:eth0', 'live:eth0'],
    ['live:any', 'live:any'],
    ['live:lo:tcp port 80', 'live:lo (tcp port 80)'],
    ['live:eth0:host fe80::1 and udp', 'live:eth0 (host fe80::1 and udp)'],
    ['live:lo:', 'live:lo'],
  ])('accepts %s', (spec, description) => {
    expect(parseSourceSpec(spec, options).description).toBe(description);
  });

  it('makes file sources for pcap: and capture sources for live:', () => {
    expect(parseSourceSpec('pcap:/x', options)).toBeInstanceOf(PcapFileSource);
    const live = parseSourceSpec('live:lo:udp port 53', options);
    expect(live).toBeInstanceOf(LiveCaptureSource);
    expect(live).toMatchObject({ iface: 'lo', filter: 'udp port 53' });
  });

  it('touches neither the file system nor libpcap', () => {
    expect(() => parseSourceSpec('pcap:/definitely/not/there.pcap', options)).not.toThrow();
    expect(() => parseSourceSpec('live:nosuchif0', options)).not.toThrow();
  });

  it.each([
    ['', /not understood/],
    ['/tmp/x.pcap', /not understood/],
    ['file:/tmp/x.pcap', /not understood/],
    ['PCAP:/tmp/x.pcap', /not understood/],
    ['pcap:', /needs a file path/],
    ['live:', /is not an interface name/],
    ['live::tcp', /is not an interface name/],
    ['live:a-name-far-too-long-for-linux', /is not an interface name/],
    ['live:eth 0', /is not an interface name/],
    ['live:../eth0', /is not an interface name/],
  ])('rejects %j with BAD_SPEC naming the accepted forms', (spec, message) => {
    let caught: unknown;
    try {
      parseSourceSpec(spec, options);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(SourceError);
    expect(caught).toMatchObject({ code: 'BAD_SPEC' });
    const text = (caught as Error).message;
    expect(text).toMatch(message);
    expect(text).toContain('pcap:PATH');
    expect(text).toContain('live:IFACE:BPF-FILTER');
  });
});
