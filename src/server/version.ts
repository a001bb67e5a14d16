// The version this build reports to clients (ServerStatus, GetNodes) and on --version.
import { createRequire } from 'node:module';

const pkg = createRequire(import.meta.url)('../../package.json') as { version: string };

/** Semantic version with a build tag, as Hubble servers report theirs (e.g. "v1.16.0+g1234"). */
export const VERSION = `v${pkg.version}+hubble-ts`;

/** flow.Emitter name on every flow this server produces. */
export const EMITTER_NAME = 'hubble-ts';
