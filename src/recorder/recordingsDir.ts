// The directory recordings are written to: created 0700 when missing, refused when other users could read it or
// plant files in it (recordings hold packet payloads, and the store trusts what it finds there).
import { mkdir, realpath, stat } from 'node:fs/promises';

/** A recordings directory the server cannot safely use; `serve` prints the message and exits. */
export class RecordingsDirError extends Error {
  override readonly name = 'RecordingsDirError';
}

function octal(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, '0');
}

/**
 * Makes sure `dir` exists, is a directory owned by this user and closed to everybody else; resolves with its real
 * path (symlinks in the path resolved once, so every file path the server reports is canonical).
 */
export async function prepareRecordingsDir(dir: string): Promise<string> {
  if (dir === '') throw new RecordingsDirError('--recordings-dir is empty');
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EEXIST')
      throw new RecordingsDirError(`cannot create recordings directory ${dir}: ${(err as Error).message}`);
  }
  const st = await stat(dir).catch((err: Error) => {
    throw new RecordingsDirError(`cannot use recordings directory ${dir}: ${err.message}`);
  });
  if (!st.isDirectory()) {
    throw new RecordingsDirError(`recordings directory ${dir} is not a directory; choose another --recordings-dir`);
  }
  const uid = process.geteuid?.();
  if (uid !== undefined && st.uid !== uid) {
    throw new RecordingsDirError(
      `recordings directory ${dir} belongs to uid ${st.uid}, not to this user (uid ${uid}); chown it or choose another --recordings-dir`,
    );
  }
  if ((st.mode & 0o077) !== 0) {
    throw new RecordingsDirError(
      `recordings directory ${dir} is open to other users (mode ${octal(st.mode)}); recordings hold packet payloads: chmod 700 ${dir}, or choose another --recordings-dir`,
    );
  }
  return realpath(dir);
}
