/**
 * Maps between pieces and files. A torrent's payload is its files concatenated in order (pad files
 * and zero-length files included); pieces cut that stream into `pieceLength` slices. Only the
 * cumulative file offsets are stored, and every lookup is a binary search, so a layout costs
 * O(files) memory whatever the piece count.
 */
import { TorkError, TorkErrorCode } from '../errors.js';

/** What the layout needs to know about one file. */
export interface LayoutFile {
  readonly length: number;
  /** A BEP 47 pad file (zeros, never written). Default: false. */
  readonly pad?: boolean;
}

/** A contiguous part of a piece that lies in one file. */
export interface FileSpan {
  readonly fileIndex: number;
  /** Offset of the span's first byte within the file. */
  readonly fileOffset: number;
  readonly length: number;
  /** Offset of the span's first byte within the piece (not within the requested range). */
  readonly pieceOffset: number;
  /** The span lies in a pad file: do not write it; for verification its bytes are zeros. */
  readonly pad: boolean;
}

/** Pieces a file touches, inclusive. A zero-length file touches none: `lastPiece === firstPiece - 1`. */
export interface PieceRange {
  readonly firstPiece: number;
  readonly lastPiece: number;
}

export interface PiecePosition {
  readonly piece: number;
  /** Offset within the piece. */
  readonly offset: number;
}

function outOfRange(message: string, details: Record<string, number>): never {
  throw new TorkError(TorkErrorCode.OUT_OF_RANGE, message, details);
}

function isCount(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0;
}

export class FileLayout {
  readonly pieceLength: number;
  readonly totalLength: number;
  readonly pieceCount: number;
  readonly fileCount: number;
  /** starts[i] is file i's offset in the payload; starts[fileCount] is the total length. */
  private readonly starts: Float64Array;
  private readonly pads: Uint8Array;

  /**
   * `totalLength`, when given, must equal the sum of the file lengths (a cross-check for callers
   * that have it from elsewhere). Throws TORK_ERR_METAINFO for lengths that are not non-negative
   * safe integers or a piece length that is not a positive one.
   */
  constructor(files: readonly LayoutFile[], pieceLength: number, totalLength?: number) {
    if (!Number.isSafeInteger(pieceLength) || pieceLength <= 0) {
      throw new TorkError(TorkErrorCode.METAINFO, `piece length ${pieceLength} must be a positive integer`);
    }
    this.starts = new Float64Array(files.length + 1);
    this.pads = new Uint8Array(files.length);
    let offset = 0;
    files.forEach((file, index) => {
      if (!isCount(file.length) || !Number.isSafeInteger(offset + file.length)) {
        throw new TorkError(TorkErrorCode.METAINFO, `file ${index} has an invalid length ${file.length}`, {
          fileIndex: index,
        });
      }
      this.starts[index] = offset;
      this.pads[index] = file.pad ? 1 : 0;
      offset += file.length;
    });
    this.starts[files.length] = offset;
    if (totalLength !== undefined && totalLength !== offset) {
      throw new TorkError(
        TorkErrorCode.METAINFO,
        `total length ${totalLength} differs from the sum of the file lengths ${offset}`,
      );
    }
    this.pieceLength = pieceLength;
    this.totalLength = offset;
    this.pieceCount = Math.ceil(offset / pieceLength);
    this.fileCount = files.length;
  }

  /** The layout of a parsed metainfo (or anything shaped like one). */
  static fromMetainfo(meta: {
    readonly files: readonly LayoutFile[];
    readonly pieceLength: number;
    readonly length: number;
  }): FileLayout {
    return new FileLayout(meta.files, meta.pieceLength, meta.length);
  }

  private checkPiece(piece: number): void {
    if (!Number.isInteger(piece) || piece < 0 || piece >= this.pieceCount) {
      outOfRange(`piece ${piece} is out of range (${this.pieceCount} pieces)`, {
        piece,
        pieceCount: this.pieceCount,
      });
    }
  }

  private checkFile(fileIndex: number): void {
    if (!Number.isInteger(fileIndex) || fileIndex < 0 || fileIndex >= this.fileCount) {
      outOfRange(`file ${fileIndex} is out of range (${this.fileCount} files)`, {
        fileIndex,
        fileCount: this.fileCount,
      });
    }
  }

  /** Payload offset of the piece's first byte. */
  pieceStart(piece: number): number {
    this.checkPiece(piece);
    return piece * this.pieceLength;
  }

  /** Length of the piece: `pieceLength`, except the last piece, which may be shorter. */
  pieceSize(piece: number): number {
    const start = this.pieceStart(piece);
    return Math.min(this.pieceLength, this.totalLength - start);
  }

  fileStart(fileIndex: number): number {
    this.checkFile(fileIndex);
    return this.starts[fileIndex]!;
  }

  fileLength(fileIndex: number): number {
    this.checkFile(fileIndex);
    return this.starts[fileIndex + 1]! - this.starts[fileIndex]!;
  }

  isPad(fileIndex: number): boolean {
    this.checkFile(fileIndex);
    return this.pads[fileIndex] === 1;
  }

  /**
   * The largest i with starts[i] <= offset. For offset < totalLength that file is never empty: an
   * empty file shares its start with the next file, and the search goes past it.
   */
  private fileAt(offset: number): number {
    let low = 0;
    let high = this.fileCount - 1;
    while (low < high) {
      const mid = (low + high + 1) >>> 1;
      if (this.starts[mid]! <= offset) low = mid;
      else high = mid - 1;
    }
    return low;
  }

  /**
   * The spans that make up `length` bytes at `offset` within `piece`, in order, across file
   * boundaries; zero-length files never appear. Defaults: the whole piece.
   */
  spans(piece: number, offset = 0, length?: number): FileSpan[] {
    const size = this.pieceSize(piece);
    const count = length ?? size - offset;
    if (!isCount(offset) || !isCount(count) || offset + count > size) {
      outOfRange(`range ${offset}+${count} lies outside piece ${piece} of ${size} bytes`, {
        piece,
        offset,
        length: count,
        pieceSize: size,
      });
    }
    const pieceStart = piece * this.pieceLength;
    let position = pieceStart + offset;
    const end = position + count;
    const spans: FileSpan[] = [];
    let index = count > 0 ? this.fileAt(position) : this.fileCount;
    while (position < end && index < this.fileCount) {
      const fileStart = this.starts[index]!;
      const fileEnd = this.starts[index + 1]!;
      if (fileEnd > position) {
        const take = Math.min(end, fileEnd) - position;
        spans.push({
          fileIndex: index,
          fileOffset: position - fileStart,
          length: take,
          pieceOffset: position - pieceStart,
          pad: this.pads[index] === 1,
        });
        position += take;
      }
      index++;
    }
    return spans;
  }

  /** The pieces file `fileIndex` touches (see PieceRange for zero-length files). */
  filePieces(fileIndex: number): PieceRange {
    const start = this.fileStart(fileIndex);
    const end = this.starts[fileIndex + 1]!;
    const firstPiece = this.pieceOf(start);
    return { firstPiece, lastPiece: end > start ? this.pieceOf(end - 1) : firstPiece - 1 };
  }

  /** Where byte `fileOffset` of file `fileIndex` lies: piece and offset within the piece. */
  filePosition(fileIndex: number, fileOffset: number): PiecePosition {
    const length = this.fileLength(fileIndex);
    if (!Number.isInteger(fileOffset) || fileOffset < 0 || fileOffset >= length) {
      outOfRange(`offset ${fileOffset} lies outside file ${fileIndex} of ${length} bytes`, {
        fileIndex,
        fileOffset,
        fileLength: length,
      });
    }
    const position = this.starts[fileIndex]! + fileOffset;
    const piece = this.pieceOf(position);
    return { piece, offset: position - piece * this.pieceLength };
  }

  private pieceOf(position: number): number {
    const piece = Math.floor(position / this.pieceLength);
    // Guards against the quotient rounding up to an integer; exact for offsets below 2^53.
    return piece * this.pieceLength > position ? piece - 1 : piece;
  }
}
