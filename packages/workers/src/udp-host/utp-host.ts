import { MessageChannel, type MessagePort } from 'node:worker_threads';
import type { TorkError } from '@tork/core/internal/errors.js';
import { RELAY_WINDOW_BYTES } from '@tork/core/internal/messages/message-limits.js';
import type { UtpHostSettings } from '@tork/core/internal/messages/udp-host.js';
import { parseRelayMessage } from '@tork/core/internal/messages/validate.js';
import { UtpConnection } from '@tork/core/internal/utp/utp-connection.js';
import type { UtpConnectionOptions } from '@tork/core/internal/utp/utp-connection-options.js';
import {
  decodeUtpPacket,
  encodeUtpPacket,
  type UtpPacket,
  UtpType,
} from '@tork/core/internal/utp/utp-packet.js';
import { WindowBudget } from '../shared/window-budget.js';

/** uTP connections at once on the socket, dialled and accepted. */
export const UTP_MAX_CONNECTIONS = 2_000;
/** Accepted connections whose peer has sent no data yet: beyond it a SYN is answered with a reset. */
export const UTP_MAX_HALF_OPEN = 64;
/** An accepted connection with no data from its peer after this is reset (its half-open slot freed), ms. */
export const UTP_HALF_OPEN_TIMEOUT_MS = 10_000;
/** Resets sent a second to packets of no connection of ours (and refused SYNs): never an amplifier. */
export const UTP_RESETS_PER_SECOND = 100;

export interface UtpHostOptions {
  readonly settings: UtpHostSettings;
  /** Sends one datagram (the UDP host's socket). */
  readonly send: (bytes: Uint8Array, port: number, host: string) => void;
  /** A peer opened a connection: its stream's relay end goes to the coordinator (transferred). */
  readonly onIncoming: (address: string, relay: MessagePort) => void;
  /** Milliseconds clock. Default: `performance.now`. */
  readonly now?: () => number;
}

/** Counters of the uTP side (see `UdpHostStats`). */
export interface UtpHostCounters {
  dialled: number;
  accepted: number;
  refused: number;
  malformed: number;
  stray: number;
  /** Summed over closed connections; open ones are added when read. */
  retransmits: number;
  duplicates: number;
}

/** One connection and its relay to the actor (or, until it is handed on, the coordinator). */
interface Link {
  readonly key: string;
  /** The key by our send id (see `#bySendId`). */
  readonly sendKey: string;
  readonly connection: UtpConnection;
  readonly port: MessagePort;
  /** Accepted and the peer has sent no data yet: counts against `maxHalfOpen`. */
  halfOpen: boolean;
  /** Delivered to the relay, not yet acknowledged by its reader. */
  unacked: number;
  /** Bytes the relay's writer handed us, and how many of them the peer has acknowledged. */
  written: number;
  acked: number;
  /** The writer's buffers, returned with the ack once every byte in them is acknowledged. */
  readonly lent: Array<{ readonly buffer: ArrayBuffer; readonly end: number }>;
  ackScheduled: boolean;
  /** Payload received and not yet posted to the reader (see `#deliver`). */
  readonly inbox: Uint8Array[];
  inboxBytes: number;
  /** The reader said `end`: our FIN is on its way (the reader's port closing is expected). */
  closing: boolean;
  ended: boolean;
  openedAt: number;
}

/** Data packets received before an ACK goes out within a batch (see `ackEveryPackets`). */
export const UTP_ACK_EVERY_PACKETS = 16;
/** Received payload gathered for a reader is posted at once past this (else once per turn). */
export const UTP_INBOX_FLUSH_BYTES = 256 * 1024;

/** How often every connection's timers run, ms. */
const TICK_MS = 20;

/**
 * uTP (BEP 29) in the UDP host thread: the connections on the shared socket, keyed by the peer's
 * address and our connection id, each relayed to a peer session over a MessagePort of its own
 * (relay-message.ts), as the Listener relays TCP. The protocol is core's `UtpConnection`; this
 * is the demultiplexer, the caps (connections, half-open ones: a SYN flood's ceiling) and the
 * relays' flow control (the peer's window stays closed while the session has not consumed).
 */
export class UtpHost {
  readonly #options: UtpHostOptions;
  readonly #links = new Map<string, Link>();
  /** The same links by the id we send with (a libutp RESET names that one). */
  readonly #bySendId = new Map<string, Link>();
  readonly #dirty = new Set<Link>();
  #flushScheduled = false;
  readonly #now: () => number;
  readonly #maxConnections: number;
  readonly #maxHalfOpen: number;
  readonly #counters: UtpHostCounters = {
    dialled: 0,
    accepted: 0,
    refused: 0,
    malformed: 0,
    stray: 0,
    retransmits: 0,
    duplicates: 0,
  };
  /** Runs while there are connections: an idle host (a seeder nobody reaches over uTP) never wakes. */
  #timer: NodeJS.Timeout | undefined;
  #halfOpen = 0;
  readonly #resets = new WindowBudget(UTP_RESETS_PER_SECOND);
  #closed = false;
  readonly #resetBuffer = new Uint8Array(64);

  constructor(options: UtpHostOptions) {
    this.#options = options;
    this.#now = options.now ?? (() => performance.now());
    this.#maxConnections = options.settings.maxConnections ?? UTP_MAX_CONNECTIONS;
    this.#maxHalfOpen = options.settings.maxHalfOpen ?? UTP_MAX_HALF_OPEN;
  }

  get connections(): number {
    return this.#links.size;
  }

  get halfOpen(): number {
    return this.#halfOpen;
  }

  counters(): UtpHostCounters {
    let retransmits = this.#counters.retransmits;
    let duplicates = this.#counters.duplicates;
    for (const link of this.#links.values()) {
      retransmits += link.connection.stats.retransmits;
      duplicates += link.connection.stats.duplicatesReceived;
    }
    return { ...this.#counters, retransmits, duplicates };
  }

  /** A datagram the demultiplexer took for uTP. */
  receive(bytes: Uint8Array, host: string, port: number): void {
    if (this.#closed) return;
    let packet: UtpPacket;
    try {
      packet = decodeUtpPacket(bytes);
    } catch {
      this.#counters.malformed++;
      return;
    }
    if (packet.type === UtpType.syn) {
      this.#onSyn(packet, host, port);
      return;
    }
    let link = this.#links.get(linkKey(host, port, packet.connectionId));
    // libutp resets a connection it cannot place with our send id (see UtpConnection.receive).
    if (!link && packet.type === UtpType.reset)
      link = this.#bySendId.get(linkKey(host, port, packet.connectionId));
    if (!link) {
      this.#counters.stray++;
      // A peer that lost its side of a connection learns so now, not at its timeout; never
      // answer a reset, and only so many a second (no amplifier for spoofed sources).
      if (packet.type !== UtpType.reset) this.#sendReset(packet, host, port);
      return;
    }
    link.connection.receive(packet);
    this.#touched(link);
    this.#afterActivity(link);
  }

  /** Delayed ACKs and held-back small packets go out once the turn's datagrams are read. */
  #touched(link: Link): void {
    this.#dirty.add(link);
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => {
      this.#flushScheduled = false;
      for (const dirty of this.#dirty) {
        if (dirty.ended) continue;
        dirty.connection.flush();
        this.#deliver(dirty);
      }
      this.#dirty.clear();
    });
  }

  /** Dials `host:port`; the stream goes over `relay` (`open` once the peer answers). */
  dial(host: string, port: number, relay: MessagePort): void {
    if (this.#closed || this.#links.size >= this.#maxConnections) {
      this.#endPort(relay, this.#closed ? 'uTP host closed' : 'too many uTP connections');
      this.#counters.refused++;
      return;
    }
    let link: Link | undefined;
    const connection = UtpConnection.dial(
      this.#connectionOptions(host, port, relay, {
        onConnect: () => {
          if (link && !link.ended) relay.postMessage({ type: 'open' });
        },
      }),
    );
    link = this.#addLink(host, port, connection, relay, false);
    this.#counters.dialled++;
  }

  /** Resets every connection and ends every relay. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    for (const link of [...this.#links.values()]) {
      link.connection.destroy();
      this.#end(link, 'uTP host closed');
    }
  }

  #onSyn(syn: UtpPacket, host: string, port: number): void {
    // Our id for the peer's connection is its SYN's id + 1 (BEP 29): a repeated SYN finds it.
    const existing = this.#links.get(linkKey(host, port, (syn.connectionId + 1) & 0xffff));
    if (existing) {
      existing.connection.receive(syn);
      return;
    }
    if (this.#links.size >= this.#maxConnections || this.#halfOpen >= this.#maxHalfOpen) {
      this.#counters.refused++;
      this.#sendReset(syn, host, port);
      return;
    }
    const { port1, port2 } = new MessageChannel();
    const connection = UtpConnection.accept(syn, this.#connectionOptions(host, port, port1, {}));
    this.#addLink(host, port, connection, port1, true);
    this.#counters.accepted++;
    const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    // Thread boundary: the coordinator reads the handshake from port2, then moves it to an actor.
    this.#options.onIncoming(address, port2);
  }

  #connectionOptions(
    host: string,
    port: number,
    relay: MessagePort,
    extra: Partial<UtpConnectionOptions>,
  ): UtpConnectionOptions {
    const { settings } = this.#options;
    let link: Link | undefined;
    const find = () => (link ??= this.#findByPort(relay));
    return {
      now: this.#now,
      send: (datagram) => this.#options.send(datagram, port, host),
      onData: (bytes) => {
        const found = find();
        if (!found || found.ended) return;
        if (found.halfOpen) {
          found.halfOpen = false;
          this.#halfOpen--;
        }
        found.unacked += bytes.length;
        // A packet's payload is 1.4 KB: one message each would cost more than the bytes. They
        // gather here and go to the reader once per turn, or at UTP_INBOX_FLUSH_BYTES.
        found.inbox.push(bytes);
        found.inboxBytes += bytes.length;
        if (found.inboxBytes >= UTP_INBOX_FLUSH_BYTES) this.#deliver(found);
        else this.#touched(found);
      },
      onConnect: () => {},
      onDrain: () => {},
      onClose: (error) => {
        const found = find();
        if (found) this.#end(found, error ? describeUtpClose(error) : 'connection closed by peer');
      },
      ...(settings.connectTimeoutMs ? { connectTimeoutMs: settings.connectTimeoutMs } : {}),
      ...(settings.idleTimeoutMs ? { idleTimeoutMs: settings.idleTimeoutMs } : {}),
      ...(settings.minRtoMs ? { minRtoMs: settings.minRtoMs } : {}),
      ...(settings.maxPayloadBytes ? { maxPayloadBytes: settings.maxPayloadBytes } : {}),
      // The reader's relay window is the advertised window: the peer stops when the actor lags.
      receiveWindowBytes: RELAY_WINDOW_BYTES,
      // The writer (a session) holds itself at its own high-water mark (~1 MiB) by our acks; this
      // only bounds a writer that ignores them.
      sendBufferBytes: RELAY_WINDOW_BYTES,
      // One ACK per turn's batch of datagrams (flushed at its end, as libutp defers its ACKs to
      // the end of a receive batch), or every UTP_ACK_EVERY_PACKETS: each send is a syscall
      // (≈ 20 µs in Node's dgram here), and an ACK per 2 packets was 40 % of this thread's time.
      ackEveryPackets: UTP_ACK_EVERY_PACKETS,
      ...extra,
    };
  }

  #findByPort(port: MessagePort): Link | undefined {
    for (const link of this.#links.values()) if (link.port === port) return link;
    return undefined;
  }

  #addLink(
    host: string,
    port: number,
    connection: UtpConnection,
    relay: MessagePort,
    incoming: boolean,
  ): Link {
    const link: Link = {
      key: linkKey(host, port, connection.recvId),
      sendKey: linkKey(host, port, connection.sendId),
      connection,
      port: relay,
      halfOpen: incoming,
      unacked: 0,
      written: 0,
      acked: 0,
      lent: [],
      ackScheduled: false,
      inbox: [],
      inboxBytes: 0,
      closing: false,
      ended: false,
      openedAt: this.#now(),
    };
    if (incoming) this.#halfOpen++;
    this.#links.set(link.key, link);
    this.#bySendId.set(link.sendKey, link);
    if (!this.#timer) {
      this.#timer = setInterval(() => this.#tick(), TICK_MS);
      this.#timer.unref();
    }
    relay.on('message', (value: unknown) => this.#fromReader(link, value));
    relay.on('close', () => {
      // After the reader's `end`, the connection is finishing its FIN: let it.
      if (link.ended || link.closing) return;
      // The reader is gone (the actor closed, its host died): the peer is told at once.
      link.connection.destroy();
      this.#end(link, 'actor gone');
    });
    return link;
  }

  #fromReader(link: Link, value: unknown): void {
    if (link.ended) return;
    let message: ReturnType<typeof parseRelayMessage>;
    try {
      // Thread boundary: relay messages are checked on arrival like every other message.
      message = parseRelayMessage(value);
    } catch {
      link.connection.destroy();
      this.#end(link, 'malformed relay message');
      return;
    }
    if (message instanceof ArrayBuffer) {
      this.#write(link, new Uint8Array(message), undefined);
    } else if (message.type === 'data') {
      this.#write(link, new Uint8Array(message.buffer, 0, message.length), message.buffer);
    } else if (message.type === 'ack') {
      link.unacked = Math.max(0, link.unacked - message.bytes);
      // The reader consumed: the advertised window opens again.
      link.connection.consumed(message.bytes);
    } else if (message.type === 'end') {
      // Our FIN follows what the reader wrote before; the connection's onClose ends the link.
      link.closing = true;
      link.connection.close();
    }
  }

  #write(link: Link, bytes: Uint8Array, buffer: ArrayBuffer | undefined): void {
    link.written += bytes.length;
    if (buffer) link.lent.push({ buffer, end: link.written });
    try {
      link.connection.write(bytes);
      this.#touched(link);
    } catch (error) {
      // Over the connection's hard send cap: the writer ignored back-pressure. Never the thread's end.
      link.connection.destroy();
      this.#end(link, (error as Error).message);
      return;
    }
    this.#afterActivity(link);
  }

  /** Acknowledges to the writer what the peer acknowledged, once per turn. */
  #afterActivity(link: Link): void {
    if (link.ended || link.ackScheduled) return;
    if (link.written - link.connection.pending <= link.acked) return;
    link.ackScheduled = true;
    setImmediate(() => {
      link.ackScheduled = false;
      if (link.ended) return;
      const acked = link.written - link.connection.pending;
      const bytes = acked - link.acked;
      if (bytes <= 0) return;
      link.acked = acked;
      const buffers: ArrayBuffer[] = [];
      while (link.lent.length > 0 && link.lent[0]!.end <= acked) buffers.push(link.lent.shift()!.buffer);
      // Thread boundary: the writer's buffers go back (moved) once the peer has every byte.
      if (buffers.length > 0) link.port.postMessage({ type: 'ack', bytes, buffers }, buffers);
      else link.port.postMessage({ type: 'ack', bytes });
    });
  }

  #tick(): void {
    const now = this.#now();
    for (const link of this.#links.values()) {
      link.connection.tick();
      // A half-open connection that never sends its handshake frees its slot (SYN floods).
      if (!link.ended && link.halfOpen && now - link.openedAt > UTP_HALF_OPEN_TIMEOUT_MS) {
        link.connection.destroy();
        this.#end(link, 'no data within the handshake time');
        continue;
      }
      if (!link.ended) this.#afterActivity(link);
    }
  }

  /** Posts the gathered payload to the reader as one moved buffer. */
  #deliver(link: Link): void {
    if (link.inboxBytes === 0) return;
    const chunks = link.inbox.splice(0);
    const bytes = link.inboxBytes;
    link.inboxBytes = 0;
    const first = chunks[0]!;
    let data: ArrayBuffer;
    if (chunks.length === 1 && first.byteOffset === 0 && first.byteLength === first.buffer.byteLength) {
      data = first.buffer as ArrayBuffer;
    } else {
      const out = new Uint8Array(bytes);
      let at = 0;
      for (const chunk of chunks) {
        out.set(chunk, at);
        at += chunk.length;
      }
      data = out.buffer;
    }
    // Thread boundary: the payload is moved to the reader, never cloned.
    link.port.postMessage(data, [data]);
  }

  #end(link: Link, reason: string): void {
    if (link.ended) return;
    // What arrived before the end (the bytes before a FIN) reaches the reader before `end`.
    this.#deliver(link);
    link.ended = true;
    if (link.halfOpen) {
      link.halfOpen = false;
      this.#halfOpen--;
    }
    this.#links.delete(link.key);
    this.#bySendId.delete(link.sendKey);
    if (this.#links.size === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
    this.#counters.retransmits += link.connection.stats.retransmits;
    this.#counters.duplicates += link.connection.stats.duplicatesReceived;
    this.#endPort(link.port, reason);
  }

  #endPort(port: MessagePort, reason: string): void {
    try {
      port.postMessage({ type: 'end', reason });
    } catch {
      // The reader's end is gone already.
    }
    port.close();
  }

  #sendReset(packet: UtpPacket, host: string, port: number): void {
    if (!this.#resets.take(this.#now())) return;
    // A SYN's id is the one the peer's replies carry; for a stray packet we cannot know which
    // side the peer was (id ± 1), so it gets the id it used, as a hint that is never trusted.
    const connectionId = packet.connectionId;
    const reset = encodeUtpPacket(
      {
        type: UtpType.reset,
        connectionId,
        timestampMicros: Math.floor(this.#now() * 1000) >>> 0,
        timestampDifferenceMicros: 0,
        windowSize: 0,
        seq: 0,
        ack: packet.seq,
        payload: new Uint8Array(0),
      },
      this.#resetBuffer,
    );
    this.#options.send(reset, port, host);
  }
}

function linkKey(host: string, port: number, connectionId: number): string {
  return `${host}|${port}|${connectionId}`;
}

/**
 * A closed connection's reason for the reader's `end` (and so for peer-disconnected): the message
 * and, for a timeout, the state it was in — which side's window was shut, what was outstanding —
 * so that a stall in the field says who was waiting. Bounded by the relay schema's 1,000 chars.
 */
function describeUtpClose(error: TorkError): string {
  const details = Object.entries(error.details)
    .filter(([key]) => key !== 'reason')
    .map(([key, value]) => `${key}=${String(value)}`)
    .join(' ');
  return (details ? `${error.message} (${details})` : error.message).slice(0, 1_000);
}
