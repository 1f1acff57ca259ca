/** Largest block we serve (BEP 3 suggests 16 KiB; clients that ask more get at most this). */
export const MAX_REQUEST_LENGTH = 128 * 1024;

export interface BlockRequest {
  readonly index: number;
  readonly begin: number;
  readonly length: number;
}

/**
 * What became of a peer's request: `queued`; `choked` (we choke it: not its fault, a choke and a
 * request crossed); `missing` (a piece we do not have); `invalid` (empty, larger than
 * MAX_REQUEST_LENGTH or beyond the piece's end); `full` (the queue is at its request or byte limit).
 */
export type RequestVerdict = 'queued' | 'choked' | 'missing' | 'invalid' | 'full';

/**
 * The block requests one peer has outstanding with us, in arrival order, bounded both in requests
 * and in the bytes they ask for. Pure bookkeeping: the Uploader reads and sends the blocks.
 */
export class UploadQueue {
  /** Most requests held at once. */
  readonly limit: number;
  /** Most bytes of requested blocks held at once. */
  readonly byteLimit: number;
  #items: BlockRequest[] = [];
  #head = 0;
  #bytes = 0;

  constructor(limit: number, byteLimit = Number.POSITIVE_INFINITY) {
    this.limit = Math.max(1, Math.floor(limit));
    this.byteLimit = Math.max(MAX_REQUEST_LENGTH, byteLimit);
  }

  get size(): number {
    return this.#items.length - this.#head;
  }

  /** Bytes of the blocks queued. */
  get bytes(): number {
    return this.#bytes;
  }

  offer(
    request: BlockRequest,
    piece: { readonly size: number; readonly have: boolean; readonly choking: boolean },
  ): RequestVerdict {
    const { begin, length } = request;
    if (length <= 0 || length > MAX_REQUEST_LENGTH || begin < 0 || begin + length > piece.size)
      return 'invalid';
    if (piece.choking) return 'choked';
    if (!piece.have) return 'missing';
    if (this.size >= this.limit || this.#bytes + length > this.byteLimit) return 'full';
    this.#items.push(request);
    this.#bytes += length;
    return 'queued';
  }

  /** Removes a request not yet served; false if it is not queued (served already, or never asked). */
  cancel(index: number, begin: number, length: number): boolean {
    for (let i = this.#head; i < this.#items.length; i++) {
      const item = this.#items[i]!;
      if (item.index === index && item.begin === begin && item.length === length) {
        this.#items.splice(i, 1);
        this.#bytes -= length;
        return true;
      }
    }
    return false;
  }

  /** The next request, left in the queue. */
  peek(): BlockRequest | undefined {
    return this.#items[this.#head];
  }

  /** The request `offset` places after the next one (0: the next), left in the queue. */
  at(offset: number): BlockRequest | undefined {
    return offset >= 0 ? this.#items[this.#head + offset] : undefined;
  }

  shift(): BlockRequest | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head++]!;
    this.#bytes -= item.length;
    // Compact now and then so a long-lived queue does not keep every served request.
    if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  /** Empties the queue (we choked the peer), returning what was outstanding. */
  clear(): BlockRequest[] {
    const rest = this.#items.slice(this.#head);
    this.#items = [];
    this.#head = 0;
    this.#bytes = 0;
    return rest;
  }
}
