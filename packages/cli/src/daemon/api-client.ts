import { TorkError, TorkErrorCode } from '@tork/core';
import type { z } from 'zod';
import { errorBody } from './api-schemas.js';

/** Longest wait for one API answer (ms). */
export const API_CLIENT_TIMEOUT_MS = 30_000;

/** A small client of the daemon's JSON API (`tork remote`, tests): answers checked against their schemas. */
export class ApiClient {
  readonly #base: string;
  readonly #token: string | undefined;

  constructor(base: string, token?: string) {
    this.#base = base.replace(/\/+$/, '');
    this.#token = token;
  }

  /** Calls `METHOD /api/v1<path>`; a non-2xx answer becomes the TorkError its body names. */
  async call<S extends z.ZodType>(
    method: string,
    path: string,
    schema: S,
    body?: unknown,
  ): Promise<z.infer<S>> {
    let response: Response;
    try {
      response = await fetch(`${this.#base}/api/v1${path}`, {
        method,
        headers: {
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(this.#token ? { authorization: `Bearer ${this.#token}` } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(API_CLIENT_TIMEOUT_MS),
      });
    } catch (error) {
      throw new TorkError(
        TorkErrorCode.IO,
        `cannot reach the daemon at ${this.#base}: ${(error as Error).message}`,
      );
    }
    const json: unknown = await response.json().catch(() => undefined);
    if (!response.ok) {
      const failed = errorBody.safeParse(json);
      if (failed.success)
        throw TorkError.fromPlain({ ...failed.data.error, details: { status: response.status } });
      throw new TorkError(TorkErrorCode.IO, `the daemon answered HTTP ${response.status}`);
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success)
      throw new TorkError(
        TorkErrorCode.IO,
        `unexpected answer to ${method} ${path}: ${parsed.error.issues[0]?.message}`,
      );
    return parsed.data;
  }
}
