import { DEFAULT_METADATA_TIMEOUT_MS, DEFAULT_TRANSPORT_POLICY } from '@tork/core';
import { type CommandHelp, PEER_HOSTS } from '../help.js';
import { dhtHelp, dhtOptions } from './dht-options.js';
import { selectHelp, selectOptions } from './select-options.js';

export const downloadUsage =
  'usage: tork download <file.torrent|magnet> --out DIR [--select LIST] [--select-glob PATTERN]... [--save-torrent FILE] [--seed [--seed-ratio R] [--seed-time T]] [--peer host:port]... [--port N] [--max-peers N] [--workers N] [--upload-slots N] [--no-trackers] [--no-dht] [--dht-bootstrap host:port,…] [--no-lsd] [--no-pex] [--encryption prefer|require|disable] [--transport both|tcp|utp] [--web-seed URL]... [--max-download RATE] [--max-upload RATE] [--sequential] [--peers] [--metrics-listen [HOST:]PORT] [--trace FILE] [--json] [--quiet]';

export const seedUsage =
  'usage: tork seed <file.torrent> --data DIR [--select LIST] [--select-glob PATTERN]... [--port N] [--seed-ratio R] [--seed-time T] [--peer host:port]... [--max-peers N] [--workers N] [--no-trackers] [--no-dht] [--dht-bootstrap host:port,…] [--no-lsd] [--no-pex] [--encryption prefer|require|disable] [--transport both|tcp|utp] [--max-upload RATE] [--metrics-listen [HOST:]PORT] [--trace FILE] [--json] [--quiet]';

/** Defaults of `tork download` and `tork seed`, shown by `--help` too. */
export const DEFAULT_PORT = 6881;
export const DEFAULT_MAX_PEERS = 80;
export const DEFAULT_UPLOAD_SLOTS = 4;
export const DEFAULT_LISTEN_HOST = '0.0.0.0';

/** The options `tork download` and `tork seed` share. */
const commonOptions = {
  'metrics-listen': { type: 'string' },
  trace: { type: 'string' },
  'seed-ratio': { type: 'string' },
  'seed-time': { type: 'string' },
  'upload-slots': { type: 'string' },
  'listen-host': { type: 'string' },
  peer: { type: 'string', multiple: true },
  port: { type: 'string' },
  'max-peers': { type: 'string' },
  workers: { type: 'string' },
  'no-trackers': { type: 'boolean', default: false },
  'save-torrent': { type: 'string' },
  'metadata-timeout': { type: 'string' },
  'no-lsd': { type: 'boolean', default: false },
  lsd: { type: 'boolean', default: false },
  'no-pex': { type: 'boolean', default: false },
  encryption: { type: 'string' },
  transport: { type: 'string' },
  'max-upload': { type: 'string' },
  peers: { type: 'boolean', default: false },
  ...selectOptions,
  json: { type: 'boolean', default: false },
  quiet: { type: 'boolean', short: 'q', default: false },
  ...dhtOptions,
} as const;

export const downloadOptions = {
  out: { type: 'string', short: 'o' },
  seed: { type: 'boolean', default: false },
  'max-download': { type: 'string' },
  sequential: { type: 'boolean', default: false },
  'web-seed': { type: 'string', multiple: true },
  ...commonOptions,
} as const;

const seedOptions = { data: { type: 'string' }, ...commonOptions } as const;

/** What both commands parse (one type for the values); each then refuses the other's options. */
export const downloadOrSeedOptions = { ...downloadOptions, ...seedOptions } as const;

const commonHelp: CommandHelp<typeof commonOptions>['help'] = {
  'seed-ratio': { arg: 'R', text: "stop seeding once R × the torrent's size is uploaded", default: 'none' },
  'seed-time': { arg: 'T', text: 'stop seeding after T: 90, 90s, 30m, 2h', default: 'none' },
  'upload-slots': {
    arg: 'N',
    text: 'peers uploaded to at once, 0 to 1000',
    default: String(DEFAULT_UPLOAD_SLOTS),
  },
  'listen-host': { arg: 'HOST', text: 'address to accept peers on', default: DEFAULT_LISTEN_HOST },
  'metrics-listen': {
    arg: '[HOST:]PORT',
    text: 'serve Prometheus metrics at http://HOST:PORT/metrics while running (HOST default 127.0.0.1)',
    default: 'none',
  },
  trace: {
    arg: 'FILE',
    text: 'write a trace of the run (Chrome Trace Event JSON: Perfetto, chrome://tracing; see tork trace-summary)',
    default: 'none',
  },
  peer: { arg: 'host:port', text: 'connect to this peer too ([v6]:port for IPv6)', default: 'none' },
  port: { arg: 'N', text: 'TCP port to accept peers on (0: any free port)', default: String(DEFAULT_PORT) },
  'max-peers': { arg: 'N', text: 'peers connected at most, 1 to 10000', default: String(DEFAULT_MAX_PEERS) },
  workers: {
    arg: 'N',
    text: 'peer host threads at most, 1 to 64; N above the cores starts the default and the rest only when the running ones are saturated and a core is idle (hashing: one thread per available core, or N if fewer)',
    default: PEER_HOSTS,
  },
  'no-trackers': {
    text: "announce to no tracker: peers come from --peer, the magnet's x.pe, the DHT, PEX, LSD and incoming ones",
  },
  'save-torrent': {
    arg: 'FILE',
    text: 'write the .torrent to FILE (for a magnet: once its metadata is had)',
    default: 'none',
  },
  'metadata-timeout': {
    arg: 'T',
    text: "give up on a magnet's metadata after T: 90, 30m",
    default: `${DEFAULT_METADATA_TIMEOUT_MS / 60_000}m`,
  },
  'no-lsd': { text: 'no local service discovery (BEP 14 multicast on the LAN; never for private torrents)' },
  lsd: { text: 'local service discovery even where TORK_HERMETIC=1 turns it off (tests)' },
  'no-pex': { text: 'no peer exchange (BEP 11): neither learn peers from peers nor tell them ours' },
  encryption: {
    arg: 'prefer|require|disable',
    text: 'message stream encryption (MSE/PE): prefer accepts both and dials encrypted, then plain if that fails; require: RC4 only, both ways; disable: plain only',
    default: 'prefer',
  },
  transport: {
    arg: 'both|tcp|utp',
    text: 'what carries peer connections: both accepts TCP and uTP (BEP 29, on the UDP port of the same number) and dials TCP, then uTP if TCP is refused or unanswered; tcp or utp: that one only',
    default: DEFAULT_TRANSPORT_POLICY,
  },
  'max-upload': {
    arg: 'RATE',
    text: 'cap on piece data served, bytes a second across all peers and threads: 4MiB, 1MB/s',
    default: 'none',
  },
  peers: { text: 'show the per-peer table (p toggles it on a terminal)' },
  json: { text: 'print NDJSON events on stdout instead of progress' },
  quiet: { text: 'print nothing but errors' },
  ...selectHelp,
  ...dhtHelp,
};

export const downloadHelp: CommandHelp<typeof downloadOptions> = {
  usage: downloadUsage,
  summary:
    'download a torrent into DIR, verifying every piece; exit status 0 only when complete\n' +
    '--peers shows the per-peer view (press p to toggle on a terminal); --json prints NDJSON events',
  options: downloadOptions,
  help: {
    out: { arg: 'DIR', text: 'directory to download into (created if need be)', required: true },
    seed: { text: 'keep seeding once complete, until --seed-ratio, --seed-time or Ctrl-C' },
    'max-download': {
      arg: 'RATE',
      text: 'cap on piece data fetched, bytes a second across all peers and threads: 10MiB, 500KiB, 2MB/s',
      default: 'none',
    },
    sequential: {
      text: 'fetch pieces in order (a read-ahead window, then the endgame) instead of rarest first: media can play from the file while it downloads',
    },
    'web-seed': {
      arg: 'URL',
      text: "fetch from this HTTP(S) server too (BEP 19 web seed: a file's URL, or a directory URL ending in / for a multi-file torrent), beside the torrent's own url-list",
      default: "the torrent's url-list",
    },
    ...commonHelp,
    'seed-ratio': { ...commonHelp['seed-ratio'], text: `${commonHelp['seed-ratio'].text} (with --seed)` },
    'seed-time': { ...commonHelp['seed-time'], text: `${commonHelp['seed-time'].text} (with --seed)` },
  },
};

export const seedHelp: CommandHelp<typeof seedOptions> = {
  usage: seedUsage,
  summary:
    'check the data in DIR (laid out as download --out writes it) and serve it to peers;\n' +
    '--seed-ratio / --seed-time stop it, else Ctrl-C',
  options: seedOptions,
  help: {
    data: {
      arg: 'DIR',
      text: 'directory holding the data, laid out as download --out writes it',
      required: true,
    },
    ...commonHelp,
  },
};

/** Why an option of the other command is refused, by name. */
export const notFor: Record<'download' | 'seed', Readonly<Record<string, string>>> = {
  seed: {
    out: 'tork seed takes --data DIR, not --out',
    seed: 'tork seed always seeds: --seed is for download',
    'max-download': 'tork seed downloads nothing: --max-download is for download',
    'web-seed': 'tork seed downloads nothing: --web-seed is for download',
  },
  download: { data: 'tork download takes --out DIR, not --data' },
};
