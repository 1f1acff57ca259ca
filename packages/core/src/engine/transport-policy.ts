/**
 * Which transports carry peer connections, as `--transport` says:
 * - `both` (default): accept TCP and uTP; dial TCP first, and uTP at once when the TCP dial is
 *   refused or unanswered (a uTP-only peer), keeping for an address whichever transport worked;
 * - `tcp`: TCP only (no uTP socket is served);
 * - `utp`: uTP only, both ways (no TCP dial; incoming TCP is still taken by the Listener).
 *
 * Never two connections to one peer at once: an address is dialled over one transport at a time.
 */
export type TransportPolicy = 'tcp' | 'utp' | 'both';
export const TRANSPORT_POLICIES: readonly TransportPolicy[] = ['tcp', 'utp', 'both'];
export const DEFAULT_TRANSPORT_POLICY: TransportPolicy = 'both';

/** What carries one connection. */
export type PeerTransportKind = 'tcp' | 'utp';

/** The transport to dial under `policy`; `known`: the one this address last worked or was switched to. */
export function dialTransportKind(
  policy: TransportPolicy,
  known: PeerTransportKind | undefined,
): PeerTransportKind {
  if (policy !== 'both') return policy;
  return known ?? 'tcp';
}

/** Whether a dial that ended this way, before its BitTorrent handshake, is worth retrying over the other transport. */
export function isTransportFailure(error: {
  readonly code: string;
  readonly details: Readonly<Record<string, unknown>>;
}): boolean {
  // Refused, reset, unreachable, unanswered: the transport itself failed. A failed MSE handshake
  // (phase 'mse') has its own retry, in plain; a bad BitTorrent handshake is the peer's fault.
  return (error.code === 'TORK_ERR_IO' || error.code === 'TORK_ERR_UTP') && error.details.phase !== 'mse';
}
