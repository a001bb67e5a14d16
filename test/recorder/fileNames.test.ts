// Recording file names: Hubble's pattern, sanitized, and the one pattern the store accepts from clients.
import { describe, expect, it } from 'vitest';
import { parseRecordingName, recordingFileName } from '../../src/recorder/fileNames.js';
import type { FilePrefix } from '../../src/recorder/startRequest.js';

const prefix = 'hubble' as FilePrefix;

describe('recording file names', () => {
  it('are <prefix>_<unix seconds>_<random>_<node>.pcap', () => {
    expect(recordingFileName(prefix, 'node-1', 1_700_000_000_999, 42)).toBe('hubble_1700000000_42_node-1.pcap');
  });

  it('replace every character outside [a-zA-Z0-9_.-] of the node name, so no separator survives', () => {
    const name = recordingFileName(prefix, '../../etc/pass wd\0é:x', 1000, 7);
    expect(name).toBe('hubble_1_7_.._.._etc_pass_wd___x.pcap');
    expect(name).not.toContain('/');
    expect(parseRecordingName(name)).toEqual({
      prefix: 'hubble',
      startedAtSeconds: 1,
      nodeName: '.._.._etc_pass_wd___x',
    });
  });

  it('stay within 255 bytes with a very long node name, keeping the .pcap suffix', () => {
    const name = recordingFileName(prefix, 'n'.repeat(400), 1000, 7);
    expect(name.length).toBe(255);
    expect(name.endsWith('.pcap')).toBe(true);
    expect(parseRecordingName(name)).toBeDefined();
  });

  it.each([
    '../hubble_1_2_n.pcap',
    '/etc/passwd',
    'hubble_1_2_n.pcap/..',
    'hubble_1_2_n/x.pcap',
    'hubble_1_2_n.pcap\0',
    'hubble_1_2_n.pcap.tmp',
    'Hubble_1_2_n.pcap',
    'hubble_x_2_n.pcap',
    'hubble_1_2_n',
    '.',
    '..',
    '',
    `hubble_1_2_${'n'.repeat(300)}.pcap`,
  ])('are not what the store accepts: %j', (name) => {
    expect(parseRecordingName(name)).toBeUndefined();
  });
});
