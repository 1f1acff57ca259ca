import * as z from 'zod';
import { TorkError, TorkErrorCode } from '../errors.js';
import { isIpv4Host } from '../messages/message-predicates.js';
import { MAX_DHT_STATE_FILE_BYTES, MAX_DHT_STATE_NODES } from './dht-limits.js';

/** A DHT node id or info-hash as 40 lowercase hex digits. */
export const DhtId = z.string().regex(/^[0-9a-f]{40}$/);
/** An IPv4 literal (the DHT speaks IPv4 only: BEP 32 is not implemented). */
export const Ipv4Host = z.string().refine(isIpv4Host, { message: 'expected an IPv4 address' });
export const UdpPort = z.number().int().min(1).max(65535);
/** A routing-table contact: node id, address, port. */
export const DhtContact = z.object({ id: DhtId, host: Ipv4Host, port: UdpPort });
export type DhtContact = z.infer<typeof DhtContact>;

/** The routing table as saved across runs (`dht.json` in the user's cache directory). */
export const DhtStateFile = z.object({
  version: z.literal(1),
  nodeId: DhtId,
  nodes: z.array(DhtContact).max(MAX_DHT_STATE_NODES),
});
export type DhtStateFile = z.infer<typeof DhtStateFile>;

/**
 * Parses a saved routing table. The file is ours but lives in a user directory: anything may be
 * there. Refuses files over {@link MAX_DHT_STATE_FILE_BYTES} and malformed ones (TorkError
 * TORK_ERR_DHT); of the nodes, only the first {@link MAX_DHT_STATE_NODES} well-formed ones are kept.
 */
export function parseDhtState(text: string): DhtStateFile {
  if (text.length > MAX_DHT_STATE_FILE_BYTES) {
    throw new TorkError(TorkErrorCode.DHT, `DHT state of ${text.length} bytes is over the cap`, {
      maxBytes: MAX_DHT_STATE_FILE_BYTES,
    });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new TorkError(TorkErrorCode.DHT, `DHT state is not JSON: ${(error as Error).message}`);
  }
  const head = z.object({ version: z.literal(1), nodeId: DhtId, nodes: z.array(z.unknown()) }).safeParse(raw);
  if (!head.success) throw new TorkError(TorkErrorCode.DHT, 'DHT state is malformed');
  const nodes: DhtContact[] = [];
  for (const node of head.data.nodes) {
    if (nodes.length >= MAX_DHT_STATE_NODES) break;
    const contact = DhtContact.safeParse(node);
    if (contact.success) nodes.push(contact.data);
  }
  return { version: 1, nodeId: head.data.nodeId, nodes };
}
