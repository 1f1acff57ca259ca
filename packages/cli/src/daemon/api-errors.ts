import { TorkError, TorkErrorCode, toTorkError } from '@tork/core';
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { z } from 'zod';
import type { errorBody } from './api-schemas.js';

/** The HTTP status of each error code the API answers with; any other code is a 500. */
const STATUS: Partial<Record<TorkErrorCode, ContentfulStatusCode>> = {
  [TorkErrorCode.API_BAD_REQUEST]: 400,
  [TorkErrorCode.USAGE]: 400,
  [TorkErrorCode.METAINFO]: 400,
  [TorkErrorCode.BENCODE]: 400,
  [TorkErrorCode.MAGNET]: 400,
  [TorkErrorCode.UNSAFE_PATH]: 400,
  [TorkErrorCode.API_UNAUTHORIZED]: 401,
  [TorkErrorCode.API_FORBIDDEN]: 403,
  [TorkErrorCode.API_NOT_FOUND]: 404,
  [TorkErrorCode.API_METHOD]: 405,
  [TorkErrorCode.API_CONFLICT]: 409,
  [TorkErrorCode.LIMIT_EXCEEDED]: 413,
};

export function apiError(code: TorkErrorCode, message: string): TorkError {
  return new TorkError(code, message);
}

/** The JSON answer for any error: `{ error: { code, message } }`; an unexpected one is a 500 that hides nothing sensitive. */
export function errorResponse(c: Context, error: unknown, statusOverride?: ContentfulStatusCode): Response {
  const tork = toTorkError(error, TorkErrorCode.INTERNAL);
  const status = statusOverride ?? STATUS[tork.code] ?? 500;
  const body: z.infer<typeof errorBody> = { error: { code: tork.code, message: tork.message } };
  return c.json(body, status);
}
