// Install step (postinstall): patches the `cap` capture binding with patches/cap+0.2.1.patch (kernel capture
// timestamps, original wire length, pcap_stats, settable snaplen and read timeout, batched delivery, at most 256
// packets per dispatch) and rebuilds it. cap's own install has already built it unpatched by then. Never fails the install: cap
// is optional (without libpcap-dev its build fails and npm leaves it out), and live capture says at run time what is
// missing.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const MARKER = 'hubble-ts:';
const PATCH = 'cap+0.2.1.patch';
const require = createRequire(join(root, 'package.json'));
const say = (line) => console.log(`hubble-ts: ${line}`);

function findCap() {
  try {
    return dirname(require.resolve('cap/package.json'));
  } catch {
    return undefined;
  }
}

/** npm hands its own node-gyp to install scripts; outside npm, the one beside npm. */
function nodeGyp() {
  const fromNpm = process.env.npm_config_node_gyp;
  if (fromNpm && existsSync(fromNpm)) return fromNpm;
  return join(
    dirname(process.execPath),
    '..',
    'lib',
    'node_modules',
    'npm',
    'node_modules',
    'node-gyp',
    'bin',
    'node-gyp.js',
  );
}

async function main() {
  const capDir = findCap();
  const addon = capDir === undefined ? undefined : join(capDir, 'build', 'Release', 'cap.node');
  // npm removes an optional dependency whose build failed only once the whole install is done.
  if (addon === undefined || !existsSync(addon)) {
    say('the optional cap binding is not built (its build needs libpcap-dev): live capture is unavailable');
    return;
  }
  const source = join(capDir, 'src', 'binding.cc');
  const text = readFileSync(source, 'utf8');
  if (!text.includes(MARKER)) {
    // The patch touches one file: jsdiff applies it to that file's text wherever cap is installed (hoisted beside
    // hubble-ts, or inside hubble-ts's own node_modules), with no line of context allowed to differ.
    const { applyPatch } = await import('diff');
    const patched = applyPatch(text, readFileSync(join(root, 'patches', PATCH), 'utf8'));
    if (patched === false) throw new Error(`patches/${PATCH} does not apply to ${source}`);
    writeFileSync(source, patched);
    say(`patched cap with patches/${PATCH}`);
  }
  if (statSync(addon).mtimeMs > statSync(source).mtimeMs) return;
  say('rebuilding cap with the patch');
  try {
    execFileSync(process.execPath, [nodeGyp(), 'rebuild'], { cwd: capDir, stdio: 'inherit' });
  } catch (err) {
    throw new Error(
      `rebuilding cap failed (${firstLine(err)}); live capture cannot run until \`npm rebuild cap\` succeeds`,
    );
  }
}

const firstLine = (err) => String(err?.message ?? err).split('\n')[0];

try {
  await main();
} catch (err) {
  say(
    err.message.startsWith('rebuilding')
      ? err.message
      : `patching the cap binding failed (${firstLine(err)}): live capture will stamp packets when they are delivered and cannot count kernel drops`,
  );
}
