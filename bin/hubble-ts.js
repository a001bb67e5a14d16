#!/usr/bin/env node
// Entry point of the hubble-ts command: runs the compiled CLI (npm run build, done on install by `prepare`).
import '../dist/cli/main.js';
