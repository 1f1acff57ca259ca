/**
 * A UDP relay on 127.0.0.1 that loses, reorders and duplicates datagrams, for uTP tests: a client
 * sends to the relay's port, the relay forwards to `target` and the target's answers back to the
 * last client. Every decision comes from a seeded generator, so a failing run can be replayed.
 */
import dgram from 'node:dgram';
import { createRng } from '@tork/core';

export interface LossyUdpRelayOptions {
  /** Share of datagrams dropped, each direction (0–1). */
  readonly drop: number;
  /** Share of datagrams sent twice. */
  readonly duplicate: number;
  /** Share of datagrams held back `reorderDelayMs`, so later ones overtake them. */
  readonly reorder: number;
  /** How long a reordered datagram is held, ms. Default: 15. */
  readonly reorderDelayMs?: number;
  /** Seed of the generator. Default: 1. */
  readonly seed?: number;
}

export interface LossyUdpRelayStats {
  forwarded: number;
  dropped: number;
  /** Dropped uTP ST_DATA datagrams from the client (the side that is not `target`): what it must resend. */
  droppedClientData: number;
  duplicated: number;
  reordered: number;
}

export interface LossyUdpRelay {
  readonly port: number;
  readonly stats: LossyUdpRelayStats;
  close(): Promise<void>;
}

export async function startLossyUdpRelay(
  target: { readonly host: string; readonly port: number },
  options: LossyUdpRelayOptions,
): Promise<LossyUdpRelay> {
  const socket = dgram.createSocket('udp4');
  const random = createRng(options.seed ?? 1);
  const stats: LossyUdpRelayStats = {
    forwarded: 0,
    dropped: 0,
    droppedClientData: 0,
    duplicated: 0,
    reordered: 0,
  };
  const timers = new Set<NodeJS.Timeout>();
  let client: { address: string; port: number } | undefined;
  let closed = false;
  const send = (bytes: Buffer, port: number, host: string) => {
    if (!closed) socket.send(bytes, port, host);
  };
  socket.on('message', (bytes, from) => {
    const fromTarget = from.address === target.host && from.port === target.port;
    if (!fromTarget) client = { address: from.address, port: from.port };
    const to = fromTarget ? client : { address: target.host, port: target.port };
    if (!to) return;
    if (random() < options.drop) {
      stats.dropped++;
      // uTP's type is the header's high nibble; ST_DATA (0) carries bytes that must be resent.
      if (!fromTarget && bytes.length > 0 && bytes[0]! >> 4 === 0) stats.droppedClientData++;
      return;
    }
    stats.forwarded++;
    if (random() < options.duplicate) {
      stats.duplicated++;
      send(bytes, to.port, to.address);
    }
    if (random() < options.reorder) {
      stats.reordered++;
      const timer = setTimeout(() => {
        timers.delete(timer);
        send(bytes, to.port, to.address);
      }, options.reorderDelayMs ?? 15);
      timers.add(timer);
      return;
    }
    send(bytes, to.port, to.address);
  });
  socket.on('error', () => {});
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  return {
    port: socket.address().port,
    stats,
    close: () => {
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      return new Promise((resolve) => socket.close(() => resolve()));
    },
  };
}
