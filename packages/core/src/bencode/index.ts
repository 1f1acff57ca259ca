export type { BencodeLimits, BencodeSpan } from './bencode.js';
export {
  DEFAULT_BENCODE_MAX_BYTES,
  DEFAULT_BENCODE_MAX_DEPTH,
  decodeBencode,
  decodeBencodePrefix,
  encodeBencode,
  findTopLevelSpan,
} from './bencode.js';
