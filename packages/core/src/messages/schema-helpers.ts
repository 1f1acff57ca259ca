import type { MessagePort } from 'node:worker_threads';
import * as z from 'zod';
import { has20Bytes, has32Bytes, isBytes, isMessagePort, isPexAddress } from './message-predicates.js';

/** Coordinator-assigned id of one peer connection, unique within an engine. */
export const ActorId = z.number().int().nonnegative();
/** A torrent is named across threads by its info-hash in lowercase hex. */
export const TorrentId = z.string().regex(/^[0-9a-f]{40}$/);
export const PieceIndex = z.number().int().nonnegative();
/** Any Uint8Array (typed loosely: a transferred or cloned view may sit on any ArrayBuffer). */
export const Bytes = z.custom<Uint8Array>(isBytes, { message: 'expected a Uint8Array' });
export const Bytes20 = Bytes.refine(has20Bytes, { message: 'expected 20 bytes' });
export const Bytes32 = Bytes.refine(has32Bytes, { message: 'expected 32 bytes' });

/** A TorkError as plain data (classes do not survive structured clone): see `PlainTorkError`. */
export { PlainTorkErrorSchema as PlainError } from './plain-error.js';

/** A MessagePort moved to another thread in the batch's transfer list. */
export const MessagePortSchema = z.custom<MessagePort>(isMessagePort, { message: 'expected a MessagePort' });

/** A peer's address in peer exchange (BEP 11): an IPv4 or IPv6 literal (no zone). */
export const PexHost = z.string().max(64).refine(isPexAddress, { message: 'expected an IP address' });
