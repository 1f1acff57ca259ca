import { once } from 'node:events';
import { type FileHandle, open } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { outputPath, TorkError, TorkErrorCode, type Torrent, toTorkError } from '@tork/core';
import { parseRange } from './http-range.js';
import { PieceWaiter } from './piece-waiter.js';
import { ReadAhead, STREAM_READ_AHEAD_BYTES } from './read-ahead.js';
import { contentType, fileUrlPath, findFile, type StreamFile, streamFiles } from './stream-files.js';

/** How long a response waits for one piece before it gives up (504, or the connection is cut). */
export const STREAM_PIECE_TIMEOUT_MS = 60_000;
/** Connections the stream server keeps at once; more are refused (closed) by the server. */
export const STREAM_MAX_CONNECTIONS = 32;
/** Bytes read from a file and written to a response at a time (one buffer per read). */
export const STREAM_READ_CHUNK_BYTES = 256 * 1024;

/** What the server needs of a torrent (a `Torrent` is one). */
export type StreamTorrent = Pick<Torrent, 'meta' | 'outDir' | 'hasPiece' | 'on' | 'off' | 'order'> &
  Partial<Pick<Torrent, 'files'>>;

export interface StreamServerOptions {
  readonly torrent: StreamTorrent;
  /** Address to listen on. Default: 127.0.0.1. */
  readonly host?: string;
  /** Port; 0 for any free one. Default: 0. */
  readonly port?: number;
  /** The file the download favours while no one reads (`--file N`). Default: none. */
  readonly focus?: number;
  /** See `STREAM_PIECE_TIMEOUT_MS`. */
  readonly pieceTimeoutMs?: number;
  /** See `STREAM_READ_AHEAD_BYTES`. */
  readonly readAheadBytes?: number;
}

/**
 * `tork stream`'s HTTP server (node:http): `/` lists the files, `/N` and `/<path>` serve one with
 * `Range` support. A response waits for each piece to be verified and written, then reads its
 * bytes from the file on disk and sends them, respecting the socket's backpressure; the readers'
 * positions become the torrent's urgent pieces. Never a byte that is not verified.
 */
export class StreamServer {
  readonly files: readonly StreamFile[];
  readonly #byPath: ReadonlyMap<string, StreamFile>;
  readonly #torrent: StreamTorrent;
  readonly #server: Server;
  readonly #waiter: PieceWaiter;
  readonly #readAhead: ReadAhead;
  readonly #pieceTimeoutMs: number;
  readonly #host: string;
  readonly #port: number;
  readonly #responses = new Set<ServerResponse>();

  constructor(options: StreamServerOptions) {
    this.#torrent = options.torrent;
    this.files = streamFiles(options.torrent.meta);
    this.#byPath = new Map(this.files.map((file) => [file.path, file]));
    this.#host = options.host ?? '127.0.0.1';
    this.#port = options.port ?? 0;
    this.#pieceTimeoutMs = options.pieceTimeoutMs ?? STREAM_PIECE_TIMEOUT_MS;
    this.#waiter = new PieceWaiter(options.torrent);
    this.#readAhead = new ReadAhead(
      options.torrent.order,
      options.torrent.meta.pieceLength,
      options.readAheadBytes ?? STREAM_READ_AHEAD_BYTES,
    );
    if (options.focus !== undefined) {
      const file = this.files.find((candidate) => candidate.index === options.focus);
      if (file === undefined) {
        throw new TorkError(
          TorkErrorCode.USAGE,
          `--file ${options.focus}: no such file (use a number tork info lists; this torrent has ${this.files.length} files)`,
        );
      }
      options.torrent.order.sequentialFrom = Math.floor(file.offset / options.torrent.meta.pieceLength);
      if (file.length > 0) this.#readAhead.focus(file.offset, file.offset + file.length);
    }
    this.#server = createServer((request, response) => {
      this.#responses.add(response);
      response.once('close', () => this.#responses.delete(response));
      this.#handle(request, response).catch((error: unknown) => {
        // The answer may be half sent: cutting the connection is the only honest end then.
        if (!response.headersSent) this.#plain(response, 500, `${toTorkError(error).message}\n`);
        else response.destroy();
      });
    });
    // node's own request timeouts stay: they bound receiving a request, not the (waiting) answer.
    this.#server.maxConnections = STREAM_MAX_CONNECTIONS;
  }

  /** Starts listening; resolves with the base URL (`http://host:port`). */
  async listen(): Promise<string> {
    this.#server.listen(this.#port, this.#host);
    await once(this.#server, 'listening');
    return this.url;
  }

  get url(): string {
    const address = this.#server.address() as AddressInfo;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return `http://${host}:${address.port}`;
  }

  /** Active readers (responses sending file bytes). */
  get readers(): number {
    return this.#readAhead.readers;
  }

  /** Stops listening, ends every response and wait. */
  async close(): Promise<void> {
    this.#waiter.close();
    for (const response of this.#responses) response.destroy();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    response.setHeader('X-Content-Type-Options', 'nosniff');
    if (isLoopback(this.#host) && !isLoopbackHost(request.headers.host)) {
      // DNS rebinding: a web page whose name now points at 127.0.0.1 must not read the files.
      this.#plain(
        response,
        403,
        'this server answers to loopback names only (127.0.0.1, localhost, [::1])\n',
      );
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.setHeader('Allow', 'GET, HEAD');
      this.#plain(response, 405, 'only GET and HEAD\n');
      return;
    }
    const url = request.url ?? '/';
    if (url === '/' || url.startsWith('/?')) {
      this.#listing(request, response);
      return;
    }
    const found = findFile(this.files, this.#byPath, url);
    if ('error' in found) {
      if (found.error === 'bad') this.#plain(response, 400, 'bad path\n');
      else this.#plain(response, 404, 'no such file in this torrent\n');
      return;
    }
    // A file left out by --select is selected once someone reads it: it is wanted now.
    const files = this.#torrent.files;
    if (files !== undefined && files.priorities[found.file.layoutIndex] === 'skip') {
      await files.setPriority(found.file.layoutIndex, 'normal');
    }
    await this.#serveFile(request, response, found.file);
  }

  async #serveFile(request: IncomingMessage, response: ServerResponse, file: StreamFile): Promise<void> {
    const range = parseRange(request.headers.range, file.length);
    response.setHeader('Accept-Ranges', 'bytes');
    response.setHeader('Content-Type', contentType(file.path));
    if (range.kind === 'unsatisfiable') {
      response.setHeader('Content-Range', `bytes */${file.length}`);
      this.#plain(response, 416, 'range not satisfiable\n');
      return;
    }
    const start = range.kind === 'partial' ? range.start : 0;
    const end = range.kind === 'partial' ? range.end + 1 : file.length;
    response.statusCode = range.kind === 'partial' ? 206 : 200;
    if (range.kind === 'partial')
      response.setHeader('Content-Range', `bytes ${start}-${end - 1}/${file.length}`);
    response.setHeader('Content-Length', String(end - start));
    if (request.method === 'HEAD' || end === start) {
      response.end();
      return;
    }
    const abort = new AbortController();
    response.once('close', () => abort.abort());
    const pieceLength = this.#torrent.meta.pieceLength;
    const reader = this.#readAhead.open(file.offset + start, file.offset + end);
    let handle: FileHandle | undefined;
    try {
      let position = start;
      while (position < end && !abort.signal.aborted) {
        const absolute = file.offset + position;
        const piece = Math.floor(absolute / pieceLength);
        try {
          await this.#waiter.wait(piece, this.#pieceTimeoutMs, abort.signal);
        } catch (error) {
          if (!response.headersSent && !abort.signal.aborted) {
            response.removeHeader('Content-Range');
            this.#plain(response, 504, `${toTorkError(error).message}\n`);
          } else response.destroy();
          return;
        }
        // Only now, with the piece on disk, is the file read.
        handle ??= await open(outputPath(this.#torrent.outDir, this.#torrent.meta, file.layoutIndex), 'r');
        const pieceEnd = Math.min(end, (piece + 1) * pieceLength - file.offset);
        while (position < pieceEnd && !abort.signal.aborted) {
          const length = Math.min(STREAM_READ_CHUNK_BYTES, pieceEnd - position);
          const chunk = Buffer.allocUnsafe(length);
          let filled = 0;
          while (filled < length) {
            const { bytesRead } = await handle.read(chunk, filled, length - filled, position + filled);
            if (bytesRead === 0)
              throw new TorkError(TorkErrorCode.IO, `${file.path} is shorter than expected`);
            filled += bytesRead;
          }
          position += length;
          reader.move(file.offset + position);
          if (!response.write(chunk)) await drained(response, abort.signal);
        }
      }
      if (!abort.signal.aborted) response.end();
    } finally {
      reader.close();
      await handle?.close();
    }
  }

  #listing(request: IncomingMessage, response: ServerResponse): void {
    const name = escapeHtml(this.#torrent.meta.name);
    const rows = this.files
      .map((file) => {
        const have = this.#fileProgress(file);
        return `<li><a href="${escapeHtml(fileUrlPath(file))}">${escapeHtml(file.path)}</a> — <a href="/${file.index}">/${file.index}</a> (${file.length} bytes, ${have} % on disk)</li>`;
      })
      .join('\n');
    const body = `<!doctype html>\n<meta charset="utf-8">\n<title>${name}</title>\n<h1>${name}</h1>\n<ol start="0">\n${rows}\n</ol>\n`;
    response.statusCode = 200;
    response.setHeader('Content-Type', 'text/html; charset=utf-8');
    response.setHeader('Content-Security-Policy', "default-src 'none'");
    response.setHeader('Content-Length', Buffer.byteLength(body));
    response.end(request.method === 'HEAD' ? undefined : body);
  }

  /** Percent of the file's pieces on disk (whole pieces, so a rough figure). */
  #fileProgress(file: StreamFile): number {
    if (file.length === 0) return 100;
    const pieceLength = this.#torrent.meta.pieceLength;
    const first = Math.floor(file.offset / pieceLength);
    const last = Math.floor((file.offset + file.length - 1) / pieceLength);
    let had = 0;
    for (let index = first; index <= last; index++) if (this.#torrent.hasPiece(index)) had++;
    return Math.floor((100 * had) / (last - first + 1));
  }

  #plain(response: ServerResponse, status: number, text: string): void {
    response.statusCode = status;
    response.setHeader('Content-Type', 'text/plain; charset=utf-8');
    response.setHeader('Content-Length', Buffer.byteLength(text));
    response.end(text);
  }
}

/** Resolves on `drain`, or when the request ends (the loop then sees the abort). */
function drained(response: ServerResponse, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      response.off('drain', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    response.once('drain', done);
    signal.addEventListener('abort', done, { once: true });
  });
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** A `Host` header naming this machine's loopback (with or without a port). */
export function isLoopbackHost(header: string | undefined): boolean {
  if (header === undefined) return false;
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:]+)(?::\d{1,5})?$/.exec(header.trim());
  if (!match) return false;
  const name = match[1]!.toLowerCase();
  return name === 'localhost' || name === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name);
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
