// The gRPC server object shared by every listener: services, health checking and server reflection; and when to stop.
import * as grpc from '@grpc/grpc-js';
import { loadFileDescriptorSetFromBuffer } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation } from 'grpc-health-check';
import type { Logger } from 'pino';
import { loadDescriptorSet } from '../api/descriptors.js';
import { saturateWideIntegers } from './wideIntegers.js';

/** Hubble's clients send large filter lists and receive large flows; keep grpc-go's limits. */
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

export interface ServiceRegistration {
  /** Fully qualified service name, for reflection and health status, e.g. "observer.Observer". */
  name: string;
  definition: grpc.ServiceDefinition;
  implementation: grpc.UntypedServiceImplementation;
}

/**
 * The names grpc.health.v1 answers for a service besides its own. The hubble CLI's `status` asks about
 * "hubble.server.Observer" (the name Hubble's server registers its health under), not "observer.Observer".
 */
const HEALTH_ALIASES: Readonly<Record<string, readonly string[]>> = {
  'observer.Observer': ['hubble.server.Observer'],
};

/** Every name health reports `service` under: its own and its aliases. */
export function healthNames(service: string): readonly string[] {
  return [service, ...(HEALTH_ALIASES[service] ?? [])];
}

export type ServingStatus = 'SERVING' | 'NOT_SERVING';

export interface ApiServer {
  server: grpc.Server;
  health: HealthImplementation;
  /** The services registered (not the health and reflection services). */
  services: readonly string[];
  /** Sets the health of a service under each of its names ("" is the server as a whole). */
  setServingStatus(service: string, status: ServingStatus): void;
}

/** Creates a server with the given services plus grpc.health.v1 and server reflection (v1 and v1alpha). */
export function createApiServer(services: readonly ServiceRegistration[]): ApiServer {
  const server = new grpc.Server({
    'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
    'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
    'grpc.keepalive_permit_without_calls': 1,
  });
  const health = new HealthImplementation({ '': 'SERVING' });
  const setServingStatus = (service: string, status: ServingStatus): void => {
    for (const name of healthNames(service)) health.setStatus(name, status);
  };
  for (const s of services) {
    // Well-formed requests with 64-bit integers past 2^53 are answered like any other, not with INTERNAL.
    server.addService(saturateWideIntegers(s.definition), s.implementation);
    setServingStatus(s.name, 'SERVING');
  }
  health.addToServer(server);
  const reflection = new ReflectionService(loadFileDescriptorSetFromBuffer(Buffer.from(loadDescriptorSet())), {
    services: services.map((s) => s.name),
  });
  reflection.addToServer(server);
  return { server, health, services: services.map((s) => s.name), setServingStatus };
}

/** Stops accepting calls, lets running calls finish for `graceMs`, then cancels what is left. */
export function shutdownApiServer(api: ApiServer, graceMs: number): Promise<void> {
  // Health checkers (and load balancers) learn at once that this server is going away.
  for (const service of ['', ...api.services]) api.setServingStatus(service, 'NOT_SERVING');
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
