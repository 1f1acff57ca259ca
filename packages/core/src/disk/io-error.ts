import { TorkError, TorkErrorCode, type TorkErrorDetails } from '../errors.js';

/**
 * Turns a file-system failure into TorkError IO naming the path, with the system code (ENOSPC,
 * EACCES, EROFS, EIO…) in `details.cause`. A TorkError passes through unchanged.
 */
export function ioError(
  error: unknown,
  operation: string,
  path: string,
  extra: TorkErrorDetails = {},
): TorkError {
  if (error instanceof TorkError) return error;
  const sysCode = systemCode(error);
  const message = error instanceof Error ? error.message : String(error);
  return new TorkError(
    TorkErrorCode.IO,
    `cannot ${operation} ${path}: ${message}`,
    { ...extra, path, operation, cause: sysCode ?? 'UNKNOWN' },
    { cause: error },
  );
}

/** The `code` of a Node system error (`ENOENT`, `EEXIST`…), if it has one. */
export function systemCode(error: unknown): string | undefined {
  return error !== null && typeof error === 'object' && 'code' in error && typeof error.code === 'string'
    ? error.code
    : undefined;
}
