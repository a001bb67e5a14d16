// The web UI's one error type at its HTTP boundary: a status and a sentence the page shows as it is. gRPC statuses
// from the services behind it map onto the HTTP status a browser (and a script using the endpoints) understands.
import * as grpc from '@grpc/grpc-js';

export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const HTTP_OF_GRPC: ReadonlyMap<grpc.status, number> = new Map([
  [grpc.status.INVALID_ARGUMENT, 400],
  [grpc.status.OUT_OF_RANGE, 400],
  [grpc.status.NOT_FOUND, 404],
  [grpc.status.ALREADY_EXISTS, 409],
  [grpc.status.FAILED_PRECONDITION, 409],
  [grpc.status.PERMISSION_DENIED, 403],
  [grpc.status.UNAUTHENTICATED, 401],
  [grpc.status.RESOURCE_EXHAUSTED, 429],
  [grpc.status.UNIMPLEMENTED, 501],
  [grpc.status.UNAVAILABLE, 503],
  [grpc.status.DEADLINE_EXCEEDED, 504],
]);

function isServiceError(err: unknown): err is grpc.ServiceError {
  return err instanceof Error && typeof (err as Partial<grpc.ServiceError>).code === 'number' && 'details' in err;
}

/** An error from a call to the services as the page should see it; `what` names the action ("starting a recording"). */
export function fromGrpc(err: unknown, what: string): HttpError {
  if (err instanceof HttpError) return err;
  if (isServiceError(err)) {
    const status = HTTP_OF_GRPC.get(err.code) ?? 502;
    const detail = err.details || err.message;
    if (err.code === grpc.status.UNAVAILABLE) {
      return new HttpError(status, `${what}: the server's API did not answer (${detail}); is it shutting down?`);
    }
    return new HttpError(status, status === 502 ? `${what} failed: ${detail}` : detail);
  }
  return new HttpError(500, `${what} failed: ${err instanceof Error ? err.message : String(err)}`);
}
