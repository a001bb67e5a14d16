// Turns a commented hex listing (one field per line, "--" starts a comment) into bytes, so fixtures document offsets.
export function hexFixture(listing: string): Uint8Array {
  const digits = listing.replace(/--[^\n]*/g, '').replace(/\s+/g, '');
  return Uint8Array.from(Buffer.from(digits, 'hex'));
}
