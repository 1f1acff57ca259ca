export {
  decodeLsdAnnounce,
  encodeLsdAnnounce,
  LSD_IPV4_GROUP,
  LSD_PORT,
  type LsdAnnounce,
  type LsdAnnounceFields,
  MAX_LSD_COOKIE_CHARS,
  MAX_LSD_HEADERS,
  MAX_LSD_INFOHASHES,
  MAX_LSD_MESSAGE_BYTES,
} from './lsd-message.js';
