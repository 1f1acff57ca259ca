import * as z from 'zod';
import { type PlainTorkError, TorkErrorCode } from '../errors.js';

/** The schema of a TorkError as plain data (`PlainTorkError`), checked wherever one crosses a thread. */
export const PlainTorkErrorSchema = z.object({
  code: z.enum(Object.values(TorkErrorCode) as [TorkErrorCode, ...TorkErrorCode[]]),
  message: z.string(),
  details: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])),
});

// The interface in errors.ts and this schema describe one shape: a change to either fails here.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const sameShape: Same<z.infer<typeof PlainTorkErrorSchema>, PlainTorkError> = true;
void sameShape;
