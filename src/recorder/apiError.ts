// The one error type of the recorder's and the recordings store's gRPC boundary: a status code and a message that
// says why, plus how file-system failures map onto codes a client can act on.
import * as grpc from '@grpc/grpc-js';
import { boundedDetails } from '../server/statusDetails.js';

/** Ends a call with `code` and `message`; anything else reaching the boundary becomes INTERNAL. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly code: grpc.status,
    message: string,
  ) {
    super(message);
  }

  /** The status object grpc-js sends when it is emitted as a stream's 'error' or passed to a unary callback. */
  toStatus(): Partial<grpc.StatusObject> {
    return { code: this.code, details: boundedDetails(this.message) };
  }
}

/** Any error as a gRPC status; `what` names the operation for errors nobody anticipated. */
export function toGrpcStatus(err: unknown, what: string): Partial<grpc.StatusObject> {
  if (err instanceof ApiError) return err.toStatus();
  return {
    code: grpc.status.INTERNAL,
    details: boundedDetails(`${what}: ${err instanceof Error ? err.message : String(err)}`),
  };
}

/**
 * The status for a failed file operation, from the error's code: an errno (ENOSPC, ...) or a sink's error code
 * (DISK_FULL, ...). Out of space or of file descriptors is the client's to wait out or free (RESOURCE_EXHAUSTED); a
 * file removed or replaced under a running recording lost data (DATA_LOSS); a directory the server cannot use is a
 * server-side precondition (FAILED_PRECONDITION); options the sink refused are the request's fault
 * (INVALID_ARGUMENT); anything else is INTERNAL.
 */
export function fileErrorCode(err: unknown, phase: 'create' | 'write'): grpc.status {
  switch ((err as { code?: unknown } | undefined)?.code) {
    case 'ENOSPC':
    case 'EDQUOT':
    case 'EFBIG':
    case 'DISK_FULL':
    case 'TOO_MANY_FILES':
    case 'EMFILE':
    case 'ENFILE':
      return grpc.status.RESOURCE_EXHAUSTED;
    case 'FILE_REMOVED':
    case 'FILE_REPLACED':
    case 'ESTALE':
      return grpc.status.DATA_LOSS;
    case 'ENOENT':
    case 'NOT_FOUND':
      return phase === 'write' ? grpc.status.DATA_LOSS : grpc.status.FAILED_PRECONDITION;
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
    case 'ENOTDIR':
    case 'PERMISSION_DENIED':
      return grpc.status.FAILED_PRECONDITION;
    case 'BAD_OPTIONS':
      return grpc.status.INVALID_ARGUMENT;
    default:
      return grpc.status.INTERNAL;
  }
}

/** True when a file could not be created because one of that name exists (errno or sink error code). */
export function isFileExists(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  return code === 'EEXIST' || code === 'FILE_EXISTS';
}
