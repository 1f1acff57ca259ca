/**
 * The zod schema of a decoded v1 `info` dictionary. It checks shapes and numeric bounds only; text
 * decoding, path safety and cross-field rules (piece count) live in metainfo.ts. Fields that real
 * torrents get wrong without harm (trackers, comments, `path.utf-8`) are left `unknown` here and
 * read leniently there.
 */
import * as z from 'zod';
import { TorkError, TorkErrorCode } from '../errors.js';
import { MAX_FILES, MAX_PIECE_LENGTH } from './limits.js';

/** A decoded bencode dictionary: a plain object, not a list or a byte string. */
export function isDict(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && !ArrayBuffer.isView(value);
}

/** "is missing" when the key is absent, otherwise "must be <what>". */
function expected(what: string) {
  return (issue: { input?: unknown }) => (issue.input === undefined ? 'is missing' : `must be ${what}`);
}

function dict<Shape extends z.ZodRawShape>(shape: Shape) {
  return z.custom<Record<string, unknown>>(isDict, { error: expected('a dictionary') }).pipe(z.object(shape));
}

/**
 * A list. The shape check comes first through a pipe because zod runs length checks on anything
 * with a `length` property, even a dictionary that failed the array check, and coercing a hostile
 * `length` value can throw a TypeError.
 */
function list<Item extends z.ZodType>(item: Item, what: string, max?: { count: number; error: string }) {
  const shape = z.custom<unknown[]>(Array.isArray, { error: expected(what) });
  // The count is checked before the items so that an oversized list is refused without walking it.
  const bounded = max
    ? shape.refine((items) => items.length <= max.count, { error: max.error, abort: true })
    : shape;
  return bounded.pipe(z.array(item));
}

const ByteString = z.custom<Uint8Array>((value) => value instanceof Uint8Array, {
  error: expected('a byte string'),
});

const Length = z
  .number({ error: expected('an integer') })
  .int({ error: 'must be an integer below 2^53' })
  .nonnegative({ error: 'must not be negative' });

const PieceLength = z
  .number({ error: expected('an integer') })
  .int({ error: 'must be a positive integer' })
  .positive({ error: 'must be a positive integer' })
  .max(MAX_PIECE_LENGTH, { error: `must be at most ${MAX_PIECE_LENGTH} (512 MiB)` });

const Pieces = ByteString.refine((bytes) => bytes.length % 20 === 0, {
  error: 'must be a whole number of 20-byte SHA-1 hashes',
});

// `length` may be absent on a BEP 47 symlink and `path` on a pad file; metainfo.ts checks that the
// other entries have them. An empty `path` list counts as absent.
const FileEntry = dict({
  length: Length.optional(),
  path: list(ByteString, 'a list of byte strings').optional(),
  'path.utf-8': z.unknown().optional(),
  attr: z.unknown().optional(),
  'symlink path': z.unknown().optional(),
});

export const InfoSchema = z.compile(
  dict({
    name: ByteString,
    'name.utf-8': z.unknown().optional(),
    'piece length': PieceLength,
    pieces: Pieces,
    length: Length.optional(),
    files: list(FileEntry, 'a list of dictionaries', {
      count: MAX_FILES,
      error: `must list at most ${MAX_FILES} files`,
    })
      .refine((files) => files.length > 0, { error: 'must not be empty' })
      .optional(),
    private: z.union([z.literal(0), z.literal(1)], { error: 'must be 0 or 1' }).optional(),
    attr: z.unknown().optional(),
  }),
);

export type RawInfo = z.infer<typeof InfoSchema>;
export type RawFileEntry = z.infer<typeof FileEntry>;

/** `info.files[3].path` rather than zod's `info,files,3,path`. */
function fieldName(prefix: string, path: readonly PropertyKey[]): string {
  let name = prefix;
  for (const key of path) name += typeof key === 'number' ? `[${key}]` : `.${String(key)}`;
  return name;
}

/** Parses with zod, turning the first issue into TORK_ERR_METAINFO "info.x must be ...". */
export function parseInfo(value: unknown): RawInfo {
  let result: ReturnType<typeof InfoSchema.safeParse>;
  try {
    result = InfoSchema.safeParse(value);
  } catch (error) {
    // Defence in depth: hostile input that trips the validator itself is still only a bad torrent.
    throw new TorkError(TorkErrorCode.METAINFO, 'info is malformed', {}, { cause: error });
  }
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = fieldName('info', issue?.path ?? []);
  throw new TorkError(TorkErrorCode.METAINFO, `${field} ${issue?.message ?? 'is invalid'}`, { field });
}
