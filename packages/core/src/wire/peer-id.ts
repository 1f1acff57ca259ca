/**
 * BEP 20 peer ids: tork's own, and a best-effort name for other clients' (for logs and the UI only;
 * a peer id proves nothing).
 */
import { webcrypto } from 'node:crypto';
import { TorkError, TorkErrorCode } from '../errors.js';
import { peerIdVersionDigits } from '../version.js';

/** Bytes in a peer id. */
export const PEER_ID_LENGTH = 20;
/** tork's Azureus-style prefix: client `TK`, then the version's digits (`-TK0100-` for 0.1.0). */
export const TORK_PEER_ID_PREFIX = `-TK${peerIdVersionDigits()}-`;

const ALPHANUMERIC = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
/** Largest multiple of 62 below 256: bytes at or above it are redrawn so every char is equally likely. */
const UNBIASED_LIMIT = 248;

export interface PeerIdOptions {
  /** ASCII prefix, at most 20 chars. Default: `TORK_PEER_ID_PREFIX` (`-TK0100-` for 0.1.0). */
  readonly prefix?: string;
  /**
   * Fills its argument with random bytes; seeded simulations pass their own.
   * Default: `crypto.getRandomValues`.
   */
  readonly random?: (bytes: Uint8Array) => void;
}

/** A fresh peer id: the prefix, then random alphanumerics (so the id prints as plain text). */
export function generatePeerId(options: PeerIdOptions = {}): Uint8Array<ArrayBuffer> {
  const prefix = options.prefix ?? TORK_PEER_ID_PREFIX;
  const random = options.random ?? ((bytes: Uint8Array) => webcrypto.getRandomValues(bytes));
  if (prefix.length > PEER_ID_LENGTH || !/^[\x20-\x7e]*$/.test(prefix)) {
    throw new TorkError(TorkErrorCode.USAGE, `peer id prefix must be at most 20 printable ASCII chars`, {
      prefix,
    });
  }
  const id = new Uint8Array(PEER_ID_LENGTH);
  for (let i = 0; i < prefix.length; i++) id[i] = prefix.charCodeAt(i);
  const pool = new Uint8Array(32);
  let at = prefix.length;
  while (at < PEER_ID_LENGTH) {
    random(pool);
    for (let i = 0; i < pool.length && at < PEER_ID_LENGTH; i++) {
      const byte = pool[i]!;
      if (byte < UNBIASED_LIMIT) id[at++] = ALPHANUMERIC.charCodeAt(byte % ALPHANUMERIC.length);
    }
  }
  return id;
}

/** Azureus-style (`-XX1234-`) client codes. */
const AZUREUS_CLIENTS: Readonly<Record<string, string>> = {
  A2: 'aria2',
  AG: 'Ares',
  AR: 'Arctic',
  AT: 'Artemis',
  AX: 'BitPump',
  AZ: 'Vuze',
  BB: 'BitBuddy',
  BC: 'BitComet',
  BE: 'BitTorrent SDK',
  BF: 'Bitflu',
  BI: 'BiglyBT',
  BL: 'BitCometLite',
  BN: 'Baidu Netdisk',
  BT: 'BitTorrent',
  BW: 'BitWombat',
  CD: 'Enhanced CTorrent',
  DE: 'Deluge',
  FD: 'Free Download Manager',
  FG: 'FlashGet',
  FW: 'FrostWire',
  FX: 'Freebox BitTorrent',
  HL: 'Halite',
  KG: 'KGet',
  KT: 'KTorrent',
  LH: 'LH-ABC',
  LP: 'Lphant',
  LT: 'libtorrent (Rasterbar)',
  LW: 'LimeWire',
  MG: 'MediaGet',
  MO: 'MonoTorrent',
  NX: 'Net Transport',
  OS: 'OneSwarm',
  PI: 'PicoTorrent',
  qB: 'qBittorrent',
  QD: 'QQDownload',
  RT: 'Retriever',
  SD: 'Thunder',
  SZ: 'Shareaza',
  TB: 'Torch',
  TK: 'tork',
  TL: 'Tribler',
  TR: 'Transmission',
  TS: 'TorrentStorm',
  tT: 'tTorrent',
  UE: 'µTorrent Embedded',
  UM: 'µTorrent Mac',
  UT: 'µTorrent',
  UW: 'µTorrent Web',
  VG: 'Vagaa',
  WD: 'WebTorrent Desktop',
  WT: 'BitLet',
  WW: 'WebTorrent',
  XL: 'Xunlei',
  XT: 'XanTorrent',
  ZT: 'ZipTorrent',
  lt: 'libTorrent (rTorrent)',
};

/** Shadow-style (`S58B-----`) client codes. */
const SHADOW_CLIENTS: Readonly<Record<string, string>> = {
  A: 'ABC',
  O: 'Osprey Permaseed',
  Q: 'BTQueue',
  R: 'Tribler',
  S: 'Shadow',
  T: 'BitTornado',
  U: 'UPnP NAT Bit Torrent',
};

/** Mainline-style (`M4-3-6--`, `A2-1-36-0-`) client codes. */
const MAINLINE_CLIENTS: Readonly<Record<string, string>> = {
  M: 'BitTorrent',
  Q: 'Queen Bee',
  A2: 'aria2',
};

const SHADOW_DIGITS = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz.-';
const AZUREUS = /^-([A-Za-z0-9]{2})([A-Za-z0-9]{4})-/;
const MAINLINE = /^(A2|[MQ])-?(\d{1,3})-(\d{1,3})-(\d{1,3})-/;
const SHADOW = /^([A-Z])([0-9A-Za-z.]{1,5})-*---/;

/**
 * A human-readable name for a peer id, such as `Transmission 3.00` or `qBittorrent 4.6.2`.
 * Unknown ids come back as `unknown "…"` (printable, with `\xNN` escapes) or `unknown <hex>` when
 * mostly binary. Never throws.
 */
export function describePeerId(id: Uint8Array): string {
  const text = latin1(id);
  if (text.startsWith('-aria2-')) return 'aria2';
  const azureus = AZUREUS.exec(text);
  if (azureus) {
    const [, code, version] = azureus as unknown as [string, string, string];
    const name = AZUREUS_CLIENTS[code];
    if (name !== undefined) return `${name} ${azureusVersion(code, version)}`;
  }
  const mainline = MAINLINE.exec(text);
  if (mainline) {
    const [, code, major, minor, patch] = mainline as unknown as [string, string, string, string, string];
    const name = MAINLINE_CLIENTS[code];
    if (name !== undefined) return `${name} ${Number(major)}.${Number(minor)}.${Number(patch)}`;
  }
  const shadow = SHADOW.exec(text);
  if (shadow) {
    const [, code, version] = shadow as unknown as [string, string, string];
    const name = SHADOW_CLIENTS[code];
    if (name !== undefined) {
      return `${name} ${Array.from(version, (char) => SHADOW_DIGITS.indexOf(char)).join('.')}`;
    }
  }
  return `unknown ${printableId(id)}`;
}

function azureusVersion(code: string, v: string): string {
  const digit = (char: string) => Number.parseInt(char, 36);
  switch (code) {
    case 'TR': {
      // Transmission 1–3 used `<major><minor: 2 digits><Z = development>`, 4 and later
      // `<major><minor><patch><0 | B = beta | Z = development>`.
      const suffix = v[3] === 'Z' ? ' (development)' : v[3] === 'B' ? ' (beta)' : '';
      if (digit(v[0]!) < 4) return `${v[0]}.${v.slice(1, 3)}${v[3] === 'Z' ? '+' : ''}`;
      return `${digit(v[0]!)}.${digit(v[1]!)}.${digit(v[2]!)}${suffix}`;
    }
    case 'UT':
    case 'UM':
    case 'UW':
    case 'UE': {
      // µTorrent: three digits and a build letter (B = beta).
      const suffix = v[3] === 'B' ? ' (beta)' : '';
      return `${digit(v[0]!)}.${digit(v[1]!)}.${digit(v[2]!)}${suffix}`;
    }
    case 'WW':
    case 'WD':
      // WebTorrent: two-digit major and minor.
      return `${Number(v.slice(0, 2))}.${Number(v.slice(2, 4))}`;
    default: {
      // Most clients (libtorrent, qBittorrent, Deluge…): one char per component, A = 10, B = 11…
      const parts = Array.from(v, digit);
      while (parts.length > 2 && parts[parts.length - 1] === 0) parts.pop();
      return parts.join('.');
    }
  }
}

function latin1(id: Uint8Array): string {
  let text = '';
  for (let i = 0; i < id.length && i < PEER_ID_LENGTH; i++) text += String.fromCharCode(id[i]!);
  return text;
}

function printableId(id: Uint8Array): string {
  const bytes = id.subarray(0, PEER_ID_LENGTH);
  let printable = 0;
  for (const byte of bytes) if (byte >= 0x20 && byte < 0x7f) printable++;
  if (printable * 2 < bytes.length) {
    return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
  }
  let text = '';
  for (const byte of bytes) {
    if (byte >= 0x20 && byte < 0x7f && byte !== 0x5c && byte !== 0x22) text += String.fromCharCode(byte);
    else text += `\\x${byte.toString(16).padStart(2, '0')}`;
  }
  return `"${text}"`;
}
