/**
 * A scripted hostile uTP peer on 127.0.0.1 (UDP only: a TCP dial to its port is refused, so tork's
 * default `--transport both` tries uTP). It answers SYNs with core's own `UtpConnection`, then
 * misbehaves as told:
 * - `never-acks`: the SYN is answered, then nothing we would send leaves (no ACK, no data);
 * - `zero-window`: every packet advertises a zero receive window, for ever;
 * - `garbage`: each SYN is answered with a bad version, an unknown type, and an ST_STATE whose ack
 *   is far out of range with a 4 GiB window: no connection can come of it.
 */
import dgram from 'node:dgram';
import { decodeUtpPacket, encodeUtpPacket, UtpConnection, type UtpPacket, UtpType } from '@tork/core';

/** A SYN as a dialler sends it (BEP 29): its receive id, its first seq (floods send these). */
export function synPacket(connectionId: number): Uint8Array {
  return encodeUtpPacket({
    type: UtpType.syn,
    connectionId,
    timestampMicros: 0,
    timestampDifferenceMicros: 0,
    windowSize: 1 << 20,
    seq: 1,
    ack: 0,
    payload: new Uint8Array(0),
  });
}

export type UtpHostileBehaviour = 'never-acks' | 'zero-window' | 'garbage';

export interface UtpHostilePeer {
  readonly address: string;
  /** SYNs received (one per connection attempt). */
  readonly syns: number;
  /** Datagrams received in all. */
  readonly datagrams: number;
  close(): Promise<void>;
}

export async function startUtpHostilePeer(behaviour: UtpHostileBehaviour): Promise<UtpHostilePeer> {
  const socket = dgram.createSocket('udp4');
  const connections = new Map<string, UtpConnection>();
  const timer = setInterval(() => {
    for (const connection of connections.values()) connection.tick();
  }, 20);
  let syns = 0;
  let datagrams = 0;
  const send = (bytes: Uint8Array, port: number, host: string) => socket.send(Buffer.from(bytes), port, host);
  socket.on('message', (bytes, from) => {
    datagrams++;
    let packet: UtpPacket;
    try {
      packet = decodeUtpPacket(bytes);
    } catch {
      return;
    }
    const key = `${from.address}:${from.port}`;
    if (packet.type === UtpType.syn) syns++;
    if (behaviour === 'garbage') {
      if (packet.type !== UtpType.syn) return;
      const state = encodeUtpPacket({
        type: UtpType.state,
        connectionId: packet.connectionId,
        timestampMicros: 0,
        timestampDifferenceMicros: 0,
        windowSize: 0xffffffff,
        seq: 1000,
        ack: (packet.seq + 30_000) & 0xffff,
        payload: new Uint8Array(0),
      });
      const badVersion = Buffer.from(state);
      badVersion[0] = (UtpType.state << 4) | 2;
      const unknownType = Buffer.from(state);
      unknownType[0] = (7 << 4) | 1;
      for (const datagram of [badVersion, unknownType, Buffer.from(state)])
        send(datagram, from.port, from.address);
      return;
    }
    let connection = connections.get(key);
    if (!connection && packet.type === UtpType.syn) {
      let answered = false;
      connection = UtpConnection.accept(packet, {
        now: () => performance.now(),
        send: (datagram) => {
          if (behaviour === 'never-acks') {
            // The answer to the SYN goes out (the dial succeeds); nothing after it ever does.
            if (answered) return;
            answered = true;
            send(datagram, from.port, from.address);
            return;
          }
          // zero-window: the same packet, claiming no room at all.
          const decoded = decodeUtpPacket(datagram);
          send(encodeUtpPacket({ ...decoded, windowSize: 0 }), from.port, from.address);
        },
        onData: () => {},
        onConnect: () => {},
        onDrain: () => {},
        onClose: () => connections.delete(key),
      });
      connections.set(key, connection);
      return;
    }
    connection?.receive(packet);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  return {
    address: `127.0.0.1:${socket.address().port}`,
    get syns() {
      return syns;
    },
    get datagrams() {
      return datagrams;
    },
    close: () => {
      clearInterval(timer);
      for (const connection of connections.values()) connection.destroy();
      return new Promise((resolve) => socket.close(() => resolve()));
    },
  };
}
