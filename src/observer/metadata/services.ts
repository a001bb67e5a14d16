// Services by frontend address and port, from the inventory, for flow.source_service/destination_service.
import type { Service } from '../../api/flow/flow.js';
import type { ServiceGetter } from '../parser/getters.js';
import type { InventoryService } from './inventory.js';

interface FrontendPorts {
  byPort: Map<number, Readonly<Service>>;
  /** A frontend listed as a bare address: every port not listed on its own. */
  anyPort: Readonly<Service> | undefined;
}

export class ServiceTable implements ServiceGetter {
  private readonly byIp = new Map<string, FrontendPorts>();

  constructor(services: readonly InventoryService[]) {
    for (const { service, frontends } of services) {
      for (const { ip, port } of frontends) {
        let ports = this.byIp.get(ip);
        if (ports === undefined) {
          ports = { byPort: new Map(), anyPort: undefined };
          this.byIp.set(ip, ports);
        }
        if (port === undefined) ports.anyPort = service;
        else ports.byPort.set(port, service);
      }
    }
  }

  /** Expects the canonical address text the parser prints; most flows miss on the first probe. */
  serviceAt(ip: string, port: number): Readonly<Service> | undefined {
    const ports = this.byIp.get(ip);
    if (ports === undefined) return undefined;
    return ports.byPort.get(port) ?? ports.anyPort;
  }
}
