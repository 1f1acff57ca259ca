export type { BencodeLimits, BencodeSpan } from './bencode.js';
export {
  DEFAULT_BENCODE_MAX_BYTES,
  DEFAULT_BENCODE_MAX_DEPTH,
  decodeBencode,
  encodeBencode,
  findTopLevelSpan,
} from './bencode.js';
