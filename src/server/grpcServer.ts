// The gRPC server object shared by every listener: services, health checking and server reflection; and when to stop.
import * as grpc from '@grpc/grpc-js';
import { loadFileDescriptorSetFromBuffer } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation } from 'grpc-health-check';
import type { Logger } from 'pino';
import { loadDescriptorSet } from '../api/descriptors.js';

/** Hubble's clients send large filter lists and receive large flows; keep grpc-go's limits. */
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

export interface ServiceRegistration {
  /** Fully qualified service name for health status, e.g. "observer.Observer". */
  name: string;
  definition: grpc.ServiceDefinition;
  implementation: grpc.UntypedServiceImplementation;
}

export interface ApiServer {
  server: grpc.Server;
  health: HealthImplementation;
}

/** Creates a server with the given services plus grpc.health.v1 and server reflection (v1 and v1alpha). */
export function createApiServer(services: readonly ServiceRegistration[]): ApiServer {
  const server = new grpc.Server({
    'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
    'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
    'grpc.keepalive_permit_without_calls': 1,
  });
  const health = new HealthImplementation({ '': 'SERVING' });
  for (const s of services) {
    server.addService(s.definition, s.implementation);
    health.setStatus(s.name, 'SERVING');
  }
  health.addToServer(server);
  const reflection = new ReflectionService(loadFileDescriptorSetFromBuffer(Buffer.from(loadDescriptorSet())), {
    services: services.map((s) => s.name),
  });
  reflection.addToServer(server);
  return { server, health };
}

/** Stops accepting calls, lets running calls finish for `graceMs`, then cancels what is left. */
export function shutdownApiServer(api: ApiServer, graceMs: number): Promise<void> {
  api.health.setStatus('', 'NOT_SERVING');
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      api.server.forceShutdown();
      resolve();
    }, graceMs);
    api.server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Resolves on the first SIGTERM or SIGINT, logging which: how `serve` and `relay` know it is time to stop. */
export function shutdownSignal(logger: Logger): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      logger.info({ signal }, 'shutting down');
      resolve();
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}
