#!/usr/bin/env -S node --max-semi-space-size=4
// Entry point of the hubble-ts command: runs the compiled CLI (npm run build, done on install by `prepare`).
// A young generation of 4 MiB semi-spaces (V8's default is 16 on 64-bit): the per-packet path allocates little, so
// ingest is as fast, and an idle server holds ~30 MB less. Run as `node bin/hubble-ts.js`, Node's defaults apply.
import '../dist/cli/main.js';
