/**
 * BEP 15 UDP tracker client: one dgram socket per client (per tracker), connection id cached for
 * its lifetime, BEP 15 retransmission schedule, replies routed by transaction id.
 */
import { randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { TorkError, TorkErrorCode } from '../errors.js';
import { validateAnnounceRequest } from './announce-request.js';
import type { CompactFamily } from './compact-peers.js';
import { displayUrl } from './printable.js';
import type {
  AnnounceRequest,
  AnnounceResponse,
  ScrapeResponse,
  ScrapeStats,
  TrackerClient,
} from './types.js';
import {
  decodeUdpResponse,
  encodeAnnounceRequest,
  encodeConnectRequest,
  encodeScrapeRequest,
  MAX_UDP_SCRAPE_HASHES,
  peekTransactionId,
  type UdpResponse,
} from './udp-codec.js';

/** BEP 15: wait 15·2^n seconds before retransmitting. */
export const DEFAULT_UDP_BASE_TIMEOUT_MS = 15_000;
/** BEP 15: n goes up to 8, so at most 9 sends and a last wait of 3,840 s. */
export const DEFAULT_UDP_MAX_RETRANSMISSIONS = 8;
/** BEP 15: a connection id may be used for one minute after it was received. */
export const DEFAULT_UDP_CONNECTION_ID_TTL_MS = 60_000;

export interface ResolvedAddress {
  readonly address: string;
  readonly family: CompactFamily;
}

export interface UdpTrackerClientOptions {
  /** First wait for a reply, in ms; the n-th retransmission waits `baseTimeoutMs · 2^n`. Default: 15,000 (BEP 15). */
  readonly baseTimeoutMs?: number;
  /** Largest n: a request is sent at most `maxRetransmissions + 1` times, connects included. Default: 8 (BEP 15). */
  readonly maxRetransmissions?: number;
  /** How long a connection id is reused, in ms. Default: 60,000 (BEP 15). */
  readonly connectionIdTtlMs?: number;
  /** Clock for connection-id expiry, in ms. Default: `performance.now` (monotonic). */
  readonly now?: () => number;
  /** Source of 32-bit transaction ids. Default: `crypto.randomInt`. */
  readonly randomTransactionId?: () => number;
  /**
   * Name resolution. Default: `dns.promises.lookup` with all addresses, IPv4 preferred (the
   * socket's family decides the peer format, and most trackers answer on IPv4).
   */
  readonly lookup?: (hostname: string) => Promise<ResolvedAddress>;
  /** Told about every ignored datagram (unknown transaction, truncated, foreign sender). Default: nothing. */
  readonly onIgnoredPacket?: (reason: string) => void;
}

type Expected = 'connect' | 'announce' | 'scrape';

/** Replies for one transaction id, kept across its retransmissions so that a late reply still counts. */
class Waiter {
  reply: UdpResponse | undefined;
  error: TorkError | undefined;
  lastProblem: string | undefined;
  private wake: (() => void) | undefined;

  constructor(
    readonly expect: Expected,
    readonly check: ((reply: UdpResponse) => string | undefined) | undefined,
  ) {}

  deliver(reply: UdpResponse): void {
    this.reply ??= reply;
    this.wake?.();
  }

  fail(error: TorkError): void {
    this.error ??= error;
    this.wake?.();
  }

  /** Resolves with the reply, or undefined after `ms`; rejects on failure or abort. */
  wait(ms: number, signal: AbortSignal | undefined): Promise<UdpResponse | undefined> {
    return new Promise((resolve, reject) => {
      const finish = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.wake = undefined;
        if (this.reply) resolve(this.reply);
        else if (this.error) reject(this.error);
        else resolve(undefined);
      };
      const onAbort = (): void => {
        this.error ??= aborted();
        finish();
      };
      const timer = setTimeout(finish, ms);
      this.wake = finish;
      signal?.addEventListener('abort', onAbort, { once: true });
      if (signal?.aborted) onAbort();
      else if (this.reply || this.error) finish();
    });
  }
}

function aborted(): TorkError {
  return new TorkError(TorkErrorCode.ABORTED, 'tracker request aborted');
}

async function defaultLookup(hostname: string): Promise<ResolvedAddress> {
  const all = await dnsLookup(hostname, { all: true });
  const chosen = all.find((entry) => entry.family === 4) ?? all.find((entry) => entry.family === 6);
  if (!chosen) throw new Error(`no address for ${hostname}`);
  return { address: chosen.address, family: chosen.family as CompactFamily };
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** Parses `udp://host:port[/path]`; throws TRACKER_URL. The path is ignored (BEP 41 is not sent). */
export function parseUdpTrackerUrl(url: string): { hostname: string; port: number } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TorkError(TorkErrorCode.TRACKER_URL, `not a URL: ${displayUrl(url)}`, { url: displayUrl(url) });
  }
  if (parsed.protocol !== 'udp:') {
    throw new TorkError(TorkErrorCode.TRACKER_URL, `not a udp:// tracker URL: ${displayUrl(url)}`, {
      url: displayUrl(url),
    });
  }
  const hostname = parsed.hostname.startsWith('[') ? parsed.hostname.slice(1, -1) : parsed.hostname;
  const port = Number(parsed.port);
  if (hostname === '' || parsed.port === '' || !Number.isInteger(port) || port < 1 || port > 0xffff) {
    throw new TorkError(
      TorkErrorCode.TRACKER_URL,
      `UDP tracker URL needs a host and a port: ${displayUrl(url)}`,
      {
        url: displayUrl(url),
      },
    );
  }
  return { hostname, port };
}

export class UdpTrackerClient implements TrackerClient {
  readonly url: string;
  /** The URL as shown in messages (no passkey). */
  private readonly shownUrl: string;
  private readonly hostname: string;
  private readonly port: number;
  private readonly baseTimeoutMs: number;
  private readonly maxRetransmissions: number;
  private readonly connectionIdTtlMs: number;
  private readonly now: () => number;
  private readonly randomTransactionId: () => number;
  private readonly lookup: (hostname: string) => Promise<ResolvedAddress>;
  private readonly onIgnoredPacket: (reason: string) => void;

  private endpoint: Promise<{ socket: dgram.Socket; remote: ResolvedAddress }> | undefined;
  private connection: { id: bigint; obtainedAt: number } | undefined;
  private readonly waiters = new Map<number, Waiter>();
  private closed = false;

  constructor(url: string, options: UdpTrackerClientOptions = {}) {
    const { hostname, port } = parseUdpTrackerUrl(url);
    this.url = url;
    this.shownUrl = displayUrl(url);
    this.hostname = hostname;
    this.port = port;
    this.baseTimeoutMs = options.baseTimeoutMs ?? DEFAULT_UDP_BASE_TIMEOUT_MS;
    this.maxRetransmissions = options.maxRetransmissions ?? DEFAULT_UDP_MAX_RETRANSMISSIONS;
    this.connectionIdTtlMs = options.connectionIdTtlMs ?? DEFAULT_UDP_CONNECTION_ID_TTL_MS;
    this.now = options.now ?? (() => performance.now());
    this.randomTransactionId = options.randomTransactionId ?? (() => randomInt(0, 0x1_0000_0000));
    this.lookup = options.lookup ?? defaultLookup;
    this.onIgnoredPacket = options.onIgnoredPacket ?? (() => {});
  }

  async announce(request: AnnounceRequest, signal?: AbortSignal): Promise<AnnounceResponse> {
    validateAnnounceRequest(request);
    const reply = await this.exchange(
      (connectionId, transactionId) => encodeAnnounceRequest(connectionId, transactionId, request),
      'announce',
      undefined,
      signal,
    );
    if (reply.action !== 'announce') throw new TorkError(TorkErrorCode.INTERNAL, 'unexpected UDP reply');
    return {
      interval: reply.interval,
      peers: reply.peers,
      complete: reply.seeders,
      incomplete: reply.leechers,
    };
  }

  /** Scrapes in packets of at most 74 info-hashes (BEP 15), one after the other. */
  async scrape(infoHashes: readonly Uint8Array[], signal?: AbortSignal): Promise<ScrapeResponse> {
    if (infoHashes.some((hash) => !(hash instanceof Uint8Array) || hash.length !== 20)) {
      throw new TorkError(TorkErrorCode.USAGE, 'an info-hash must be 20 bytes');
    }
    const result = new Map<string, ScrapeStats>();
    for (let start = 0; start < infoHashes.length; start += MAX_UDP_SCRAPE_HASHES) {
      const batch = infoHashes.slice(start, start + MAX_UDP_SCRAPE_HASHES);
      const reply = await this.exchange(
        (connectionId, transactionId) => encodeScrapeRequest(connectionId, transactionId, batch),
        'scrape',
        (candidate) =>
          candidate.action === 'scrape' && candidate.stats.length !== batch.length
            ? `scrape reply with ${candidate.stats.length} entries for ${batch.length} info-hashes`
            : undefined,
        signal,
      );
      if (reply.action !== 'scrape') throw new TorkError(TorkErrorCode.INTERNAL, 'unexpected UDP reply');
      batch.forEach((hash, i) => {
        result.set(hex(hash), reply.stats[i]!);
      });
    }
    return result;
  }

  /** Closes the socket; pending requests fail with ABORTED, later ones too. */
  close(): void {
    this.closed = true;
    for (const waiter of this.waiters.values()) waiter.fail(this.closedError());
    this.dropEndpoint();
  }

  private dropEndpoint(): void {
    const endpoint = this.endpoint;
    this.endpoint = undefined;
    this.connection = undefined;
    endpoint?.then(
      ({ socket }) => {
        try {
          socket.close();
        } catch {
          // Already closed by a socket error: nothing left to release.
        }
      },
      () => {},
    );
  }

  private closedError(): TorkError {
    return new TorkError(TorkErrorCode.ABORTED, 'UDP tracker client closed', { url: this.shownUrl });
  }

  private ensureOpen(signal: AbortSignal | undefined): void {
    if (this.closed) throw this.closedError();
    if (signal?.aborted) throw aborted();
  }

  private getEndpoint(): Promise<{ socket: dgram.Socket; remote: ResolvedAddress }> {
    // Never open a socket after close(): nothing would close it again.
    if (this.closed) return Promise.reject(this.closedError());
    this.endpoint ??= this.openEndpoint();
    return this.endpoint;
  }

  private async openEndpoint(): Promise<{ socket: dgram.Socket; remote: ResolvedAddress }> {
    let remote: ResolvedAddress;
    const literal = isIP(this.hostname);
    if (literal !== 0) {
      remote = { address: this.hostname, family: literal as CompactFamily };
    } else {
      try {
        remote = await this.lookup(this.hostname);
      } catch (error) {
        throw new TorkError(
          TorkErrorCode.TRACKER_UNREACHABLE,
          `cannot resolve UDP tracker host ${this.hostname}: ${(error as Error).message}`,
          { url: this.shownUrl },
          { cause: error },
        );
      }
    }
    const socket = dgram.createSocket(remote.family === 6 ? 'udp6' : 'udp4');
    socket.on('message', (message, rinfo) => this.onMessage(message, rinfo, remote));
    socket.on('error', (error) => {
      const failure = new TorkError(
        TorkErrorCode.TRACKER_UNREACHABLE,
        `UDP tracker socket error: ${error.message}`,
        { url: this.shownUrl },
        { cause: error },
      );
      for (const waiter of this.waiters.values()) waiter.fail(failure);
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    // The socket alone must not keep the process alive: pending requests hold a timer instead.
    socket.unref();
    return { socket, remote };
  }

  private onMessage(message: Buffer, rinfo: dgram.RemoteInfo, remote: ResolvedAddress): void {
    const bytes = new Uint8Array(message.buffer, message.byteOffset, message.byteLength);
    if (rinfo.address !== remote.address || rinfo.port !== this.port) {
      this.onIgnoredPacket(`datagram from ${rinfo.address}:${rinfo.port}, not the tracker`);
      return;
    }
    const transactionId = peekTransactionId(bytes);
    if (transactionId === undefined) {
      this.onIgnoredPacket(`truncated datagram of ${bytes.length} bytes`);
      return;
    }
    const waiter = this.waiters.get(transactionId);
    if (!waiter) {
      this.onIgnoredPacket(`datagram for unknown transaction ${transactionId}`);
      return;
    }
    let reply: UdpResponse;
    try {
      reply = decodeUdpResponse(bytes, remote.family);
    } catch (error) {
      waiter.lastProblem = (error as Error).message;
      this.onIgnoredPacket(waiter.lastProblem);
      return;
    }
    const problem =
      reply.action === 'error'
        ? undefined
        : reply.action !== waiter.expect
          ? `${reply.action} reply to a ${waiter.expect} request`
          : waiter.check?.(reply);
    if (problem !== undefined) {
      waiter.lastProblem = problem;
      this.onIgnoredPacket(problem);
      return;
    }
    waiter.deliver(reply);
  }

  private newTransactionId(): number {
    for (;;) {
      const id = this.randomTransactionId() >>> 0;
      if (!this.waiters.has(id)) return id;
    }
  }

  private connectionValid(): boolean {
    return this.connection !== undefined && this.now() - this.connection.obtainedAt < this.connectionIdTtlMs;
  }

  /**
   * Sends a request built for the current connection id until it is answered, reconnecting when
   * the id expires between retransmissions. `retry.n` counts sends across connects and requests,
   * as BEP 15's schedule does.
   */
  private async exchange(
    build: (connectionId: bigint, transactionId: number) => Uint8Array,
    expect: 'announce' | 'scrape',
    check: ((reply: UdpResponse) => string | undefined) | undefined,
    signal: AbortSignal | undefined,
  ): Promise<UdpResponse> {
    this.ensureOpen(signal);
    const retry = { n: 0 };
    try {
      for (;;) {
        if (!this.connectionValid()) {
          const reply = await this.sendUntilAnswered(
            encodeConnectRequest,
            'connect',
            undefined,
            retry,
            signal,
          );
          if (reply === 'expired') continue;
          if (reply.action !== 'connect') throw this.failure(reply);
          this.connection = { id: reply.connectionId, obtainedAt: this.now() };
        }
        const connectionId = this.connection!.id;
        const reply = await this.sendUntilAnswered(
          (transactionId) => build(connectionId, transactionId),
          expect,
          check,
          retry,
          signal,
          () => !this.connectionValid(),
        );
        if (reply === 'expired') continue;
        if (reply.action === 'error') throw this.failure(reply);
        return reply;
      }
    } catch (error) {
      if (
        error instanceof TorkError &&
        (error.code === TorkErrorCode.TRACKER_TIMEOUT || error.code === TorkErrorCode.TRACKER_UNREACHABLE)
      ) {
        // Re-resolve and re-bind next time (the tracker may have moved, the socket may be broken),
        // unless another request still uses the socket.
        if (this.waiters.size === 0) this.dropEndpoint();
      }
      throw error;
    }
  }

  private failure(reply: UdpResponse): TorkError {
    // A tracker that refuses us may have forgotten our connection id: start afresh next time.
    this.connection = undefined;
    const message = reply.action === 'error' ? reply.message : `unexpected ${reply.action} reply`;
    return new TorkError(TorkErrorCode.TRACKER_FAILURE, `${this.shownUrl}: tracker refused: ${message}`, {
      url: this.shownUrl,
      trackerMessage: message,
    });
  }

  private async sendUntilAnswered(
    build: (transactionId: number) => Uint8Array,
    expect: Expected,
    check: ((reply: UdpResponse) => string | undefined) | undefined,
    retry: { n: number },
    signal: AbortSignal | undefined,
    expired?: () => boolean,
  ): Promise<UdpResponse | 'expired'> {
    const { socket, remote } = await this.getEndpoint();
    this.ensureOpen(signal);
    const transactionId = this.newTransactionId();
    const packet = build(transactionId);
    const waiter = new Waiter(expect, check);
    this.waiters.set(transactionId, waiter);
    try {
      for (let first = true; ; first = false) {
        if (!first && expired?.()) return 'expired';
        if (retry.n > this.maxRetransmissions) {
          throw new TorkError(
            TorkErrorCode.TRACKER_TIMEOUT,
            `UDP tracker ${this.shownUrl} did not answer after ${this.maxRetransmissions + 1} sends` +
              (waiter.lastProblem ? ` (last ignored reply: ${waiter.lastProblem})` : ''),
            { url: this.shownUrl, sends: this.maxRetransmissions + 1, lastIgnoredReply: waiter.lastProblem },
          );
        }
        await this.send(socket, remote, packet);
        const reply = await waiter.wait(this.baseTimeoutMs * 2 ** retry.n, signal);
        if (reply) return reply;
        retry.n++;
      }
    } finally {
      this.waiters.delete(transactionId);
    }
  }

  private send(socket: dgram.Socket, remote: ResolvedAddress, packet: Uint8Array): Promise<void> {
    const unreachable = (error: Error): TorkError =>
      new TorkError(
        TorkErrorCode.TRACKER_UNREACHABLE,
        `cannot send to UDP tracker ${this.shownUrl}: ${error.message}`,
        { url: this.shownUrl },
        { cause: error },
      );
    return new Promise((resolve, reject) => {
      try {
        socket.send(packet, this.port, remote.address, (error) =>
          error ? reject(unreachable(error)) : resolve(),
        );
      } catch (error) {
        // A socket closed under us (close() raced this send) throws synchronously.
        reject(this.closed ? this.closedError() : unreachable(error as Error));
      }
    });
  }
}
