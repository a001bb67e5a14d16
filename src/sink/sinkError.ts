// The one error sinks and the pcap writer give, with a stable code and a message that names the file and the cause.

export type SinkErrorCode =
  /** The options of a recording cannot be right (rule id taken or out of range, queue size, limits). */
  | 'BAD_OPTIONS'
  /** The file system is full (ENOSPC) or the quota is used up (EDQUOT). */
  | 'DISK_FULL'
  /** The file to create exists already: recordings never overwrite. */
  | 'FILE_EXISTS'
  /** Not allowed to create or write the file (EACCES, EPERM, EROFS). */
  | 'PERMISSION_DENIED'
  /** The directory of the file does not exist. */
  | 'NOT_FOUND'
  /** The device failed (EIO). */
  | 'IO_ERROR'
  /** The server may open no more files (EMFILE: its ulimit -n; ENFILE: the system's). */
  | 'TOO_MANY_FILES'
  /** Our file descriptor was closed under us (EBADF). */
  | 'FILE_CLOSED'
  /** The file was deleted or moved away while it was being written. */
  | 'FILE_REMOVED'
  /** Another file took the recording's path while it was being written. */
  | 'FILE_REPLACED'
  /** Any other failure of a file operation. */
  | 'WRITE_FAILED';

export class SinkError extends Error {
  override readonly name = 'SinkError';

  constructor(
    readonly code: SinkErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * A SinkError for a failed file operation: `doing` says what we were doing ("creating", "writing"), the code what the
 * system said. The message is meant for the person who started the recording, so it says what to look at.
 */
export function fileError(error: unknown, doing: string, path: string): SinkError {
  if (error instanceof SinkError) return error;
  const code = (error as NodeJS.ErrnoException | undefined)?.code ?? 'UNKNOWN';
  const cause = { cause: error };
  switch (code) {
    case 'ENOSPC':
      return new SinkError('DISK_FULL', `disk full while ${doing} ${path}: ENOSPC`, cause);
    case 'EDQUOT':
      return new SinkError('DISK_FULL', `disk quota exceeded while ${doing} ${path}: EDQUOT`, cause);
    case 'EEXIST':
      return new SinkError('FILE_EXISTS', `${path} already exists (recordings never overwrite a file): EEXIST`, cause);
    case 'EACCES':
    case 'EPERM':
      return new SinkError('PERMISSION_DENIED', `permission denied while ${doing} ${path}: ${code}`, cause);
    case 'EROFS':
      return new SinkError('PERMISSION_DENIED', `read-only file system while ${doing} ${path}: EROFS`, cause);
    case 'ENOENT':
    case 'ENOTDIR':
      return new SinkError('NOT_FOUND', `the directory of ${path} does not exist (${doing} it): ${code}`, cause);
    case 'EMFILE':
    case 'ENFILE':
      return new SinkError(
        'TOO_MANY_FILES',
        `too many open files while ${doing} ${path}: ${code} (stop some recordings, or raise the server's limit, ulimit -n)`,
        cause,
      );
    case 'EIO':
      return new SinkError('IO_ERROR', `I/O error while ${doing} ${path}: EIO`, cause);
    case 'EBADF':
      return new SinkError('FILE_CLOSED', `the file descriptor of ${path} was closed while ${doing} it: EBADF`, cause);
    default: {
      const detail = error instanceof Error ? error.message : String(error);
      return new SinkError('WRITE_FAILED', `${doing} ${path} failed: ${detail}`, cause);
    }
  }
}
