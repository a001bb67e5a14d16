// The relay's metrics, as hubble-relay exports them: its peers by connection status, and the process metrics.
import { collectDefaultMetrics, Registry } from 'prom-client';
import { registerUiMetrics, type UiStreamCounters } from './nodeMetrics.js';
import { ScrapedMetric } from './scraped.js';

/** A peer's state as the relay's peer manager keeps it. */
export type RelayPeerState = 'connecting' | 'connected' | 'unavailable';

/**
 * hubble-relay counts its peers by their gRPC channel's connectivity state, plus NIL_CONNECTION for peers it has no
 * channel to; every status is always reported, 0 included. Ours: connecting is CONNECTING, connected is READY, and a
 * peer that cannot be reached (refused, TLS, timed out, waiting to retry) is TRANSIENT_FAILURE.
 */
const STATUSES = ['IDLE', 'CONNECTING', 'READY', 'TRANSIENT_FAILURE', 'SHUTDOWN', 'NIL_CONNECTION'] as const;
const STATUS_OF: Readonly<Record<RelayPeerState, (typeof STATUSES)[number]>> = {
  connecting: 'CONNECTING',
  connected: 'READY',
  unavailable: 'TRANSIENT_FAILURE',
};

export function relayMetricsRegistry(
  peers: () => readonly { readonly state: RelayPeerState }[],
  ui: () => UiStreamCounters | undefined = () => undefined,
): Registry {
  const registry = new Registry();
  new ScrapedMetric(
    'hubble_relay_pool_peer_connection_status',
    'Measures the connectivity status of all peers by counting the number of peers for each given connection status.',
    'gauge',
    () => {
      const counts = new Map<string, number>(STATUSES.map((s) => [s, 0]));
      for (const peer of peers()) counts.set(STATUS_OF[peer.state], counts.get(STATUS_OF[peer.state])! + 1);
      return STATUSES.map((status) => [{ status }, counts.get(status)!] as const);
    },
  ).registerIn(registry);
  registerUiMetrics(registry, ui);
  collectDefaultMetrics({ register: registry });
  return registry;
}
