// A few whole Ethernet frames of the kinds flows are made of (a TCP SYN, IPv6 UDP, an ICMP echo, a DNS answer), for
// tests that run every path of the parser over the same packets.
import { EtherType, IpProtocol } from '../../src/packet/protocols.js';
import { dnsMessage, ethernet, icmp, ipv4, ipv6, tcp, udp } from './frames.js';

export const SAMPLE_FRAMES = {
  tcpSyn: ethernet(
    { type: EtherType.IPV4 },
    ipv4({ src: '10.0.0.1', dst: '10.0.0.2', protocol: IpProtocol.TCP }, tcp({ sport: 40000, dport: 80, flags: 0x02 })),
  ),
  udpV6: ethernet(
    { type: EtherType.IPV6 },
    ipv6({ src: 'fd00::1', dst: 'fd00::2', next: IpProtocol.UDP }, udp(5000, 53, new Uint8Array(4))),
  ),
  icmp: ethernet(
    { type: EtherType.IPV4 },
    ipv4({ src: '10.0.0.1', dst: '8.8.8.8', protocol: IpProtocol.ICMP }, icmp(8, 0, 7, 1, new Uint8Array(8))),
  ),
  dnsAnswer: ethernet(
    { type: EtherType.IPV4 },
    ipv4(
      { src: '10.0.0.53', dst: '10.0.0.1', protocol: IpProtocol.UDP },
      udp(
        53,
        40001,
        dnsMessage({
          id: 7,
          response: true,
          question: 'example.com',
          answers: [{ name: 'example.com', type: 1, ttl: 60, data: '93.184.216.34' }],
        }),
      ),
    ),
  ),
};
