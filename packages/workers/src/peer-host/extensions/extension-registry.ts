import { decodeBencode, encodeBencode } from '@tork/core/internal/bencode/bencode.js';
import { TorkError, TorkErrorCode } from '@tork/core/internal/errors.js';
import type { HostEvent } from '@tork/core/internal/messages/host-event.js';
import type { ActorTorrent } from '../actor-torrent.js';
import type { ExtensionHandler, ExtensionPeer, PeerExtension } from './peer-extension.js';

/** Largest BEP 10 handshake we decode. */
const MAX_EXTENDED_HANDSHAKE = 64 * 1024;
/** Extended message ids are one byte, and 0 is the handshake's. */
const MAX_EXTENSION_ID = 255;

/** Writes an extended message under the peer's id; false when nothing could be sent. */
export type ExtendedSender = (remoteId: number, payload: Uint8Array) => boolean;

/** The connection an extension registry serves: its id, torrent and way to the coordinator. */
export interface ExtensionContext {
  readonly actorId: number;
  readonly torrent: ActorTorrent;
  emit(event: HostEvent, transfer?: ArrayBuffer): void;
  close(error: TorkError): void;
}

/** One extension on one connection: its handler, and the peer's id for it. */
class Registration implements ExtensionPeer {
  readonly name: string;
  handler: ExtensionHandler | null = null;
  remoteId = 0;
  readonly #send: ExtendedSender;
  readonly #context: ExtensionContext;

  constructor(name: string, send: ExtendedSender, context: ExtensionContext) {
    this.name = name;
    this.#send = send;
    this.#context = context;
  }

  get actorId(): number {
    return this.#context.actorId;
  }

  get torrent(): ActorTorrent {
    return this.#context.torrent;
  }

  emit(event: HostEvent, transfer?: ArrayBuffer): void {
    this.#context.emit(event, transfer);
  }

  close(error: TorkError): void {
    this.#context.close(error);
  }

  send(payload: Uint8Array): boolean {
    return this.remoteId !== 0 && this.#send(this.remoteId, payload);
  }
}

/**
 * The BEP 10 extensions of one session, by local id (1, 2, … in the order given). It builds our
 * extended handshake from them, reads the peer's once per handshake, telling each extension the
 * peer's id for its name, and routes each incoming extended message to the extension registered
 * under its id. With no extension registered, `m` is empty and every message is ignored.
 */
export class ExtensionRegistry {
  /** Index: local id - 1. */
  readonly #registrations: Registration[];

  constructor(extensions: readonly PeerExtension[], send: ExtendedSender, context: ExtensionContext) {
    const names = new Set(extensions.map((extension) => extension.name));
    if (names.size !== extensions.length || names.has('') || extensions.length > MAX_EXTENSION_ID) {
      throw new TorkError(
        TorkErrorCode.INTERNAL,
        `BEP 10 extensions need distinct names, at most ${MAX_EXTENSION_ID} of them: ${[...names].join(', ')}`,
      );
    }
    // Only the extensions that open a handler for this connection get a local id.
    this.#registrations = [];
    for (const extension of extensions) {
      const registration = new Registration(extension.name, send, context);
      registration.handler = extension.open(registration);
      if (registration.handler !== null) this.#registrations.push(registration);
    }
  }

  /** The host's tick, to every handler. */
  tick(now: number): void {
    for (const registration of this.#registrations) registration.handler!.tick?.(now);
  }

  /** The handler registered under `name` on this connection, if the extension opened one. */
  handler(name: string): ExtensionHandler | undefined {
    return this.#registrations.find((registration) => registration.name === name)?.handler ?? undefined;
  }

  /** The connection closed. */
  close(): void {
    for (const registration of this.#registrations) registration.handler!.close?.();
  }

  /**
   * Our extended handshake: `m` maps each extension's name to its local id; `fields` are the
   * session's own (reqq, v, p).
   */
  handshake(fields: Readonly<Record<string, unknown>>): Uint8Array {
    const m: Record<string, number> = {};
    let extra: Record<string, unknown> = {};
    this.#registrations.forEach((registration, index) => {
      m[registration.name] = index + 1;
      extra = { ...extra, ...registration.handler!.handshakeFields?.() };
    });
    return encodeBencode({ ...extra, m, ...fields });
  }

  /**
   * The peer's extended handshake, decoded once and bounded (a peer cannot make us decode
   * megabytes). Each extension learns the peer's id for its name, then its handler sees the
   * dictionary. Returns the dictionary, for the session's own fields; null if it is none.
   * Throws TORK_ERR_WIRE_PROTOCOL when it is not bencode.
   */
  onHandshake(payload: Uint8Array): Readonly<Record<string, unknown>> | null {
    let decoded: unknown;
    try {
      decoded = decodeBencode(payload, { maxBytes: MAX_EXTENDED_HANDSHAKE, maxDepth: 8 });
    } catch (error) {
      throw new TorkError(
        TorkErrorCode.WIRE_PROTOCOL,
        `peer sent a malformed extended handshake: ${(error as Error).message}`,
      );
    }
    if (!isDictionary(decoded)) return null;
    if (this.#registrations.length === 0) return decoded;
    const ids = isDictionary(decoded.m) ? decoded.m : {};
    for (const registration of this.#registrations) {
      // BEP 10: a later handshake may name only what changed; an id of 0 disables the extension.
      if (Object.hasOwn(ids, registration.name)) registration.remoteId = extensionId(ids[registration.name]);
    }
    for (const registration of this.#registrations) registration.handler!.onHandshake(decoded);
    return decoded;
  }

  /** An extended message under our `localId` (not 0): to its extension; an id we never gave is ignored. */
  onMessage(localId: number, payload: Uint8Array): void {
    this.#registrations[localId - 1]?.handler?.onMessage(payload);
  }
}

function isDictionary(value: unknown): value is Readonly<Record<string, unknown>> {
  return (
    value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Uint8Array)
  );
}

/** The peer's id for an extension; anything but a one-byte id counts as 0 (disabled). */
function extensionId(value: unknown): number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= MAX_EXTENSION_ID
    ? value
    : 0;
}
