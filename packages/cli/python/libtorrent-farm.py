# Usage: /usr/bin/python3 libtorrent-farm.py TORRENT DATA_DIR COUNT [--also TORRENT]... [--rate-limit BYTES_PER_S] [--rates R1,R2,...] [--churn SECONDS] [--churn-seed N] [--seed-mode] [--host 127.0.0.1]  -> stdout {"ports":[...]}; stdin "stats" -> {"uploaded":[...]}; SIGTERM -> {"uploaded":[...]} and exit.
"""A farm of COUNT libtorrent seeders in ONE process (tork bench, profiling).

Each seeder is its own libtorrent session (own peer id) listening on its own port of 127.0.0.1
(ports chosen by the kernel), all serving the same DATA_DIR. Hermetic and cheap: no DHT, LSD,
UPnP, NAT-PMP, no uTP, no trackers (the seeders never announce: the bench's tracker hands out
their addresses), no alerts, one disk thread and one hashing thread per session.

The data is added as complete without any start-up check: every piece is marked as had
(add_torrent_params.have_pieces) and no_verify_files is set, so nothing is hashed, neither at
start nor on first request (`--seed-mode` selects libtorrent's seed_mode instead, which hashes
each piece on its first request — for comparison only). The data must be correct.

`--also TORRENT` (repeatable): every session seeds that torrent too, from the same DATA_DIR — the
same data set as a v2-only or hybrid torrent (`tork bench --format`), so that one farm on one set
of ports serves every format. A hybrid's pad files are not on disk: libtorrent reads them as zeros.

Protocol (one JSON document per line on stdout):
  start-up      {"ports": [p1, p2, ...], "pid": PID}
  stdin "stats" {"uploaded": [bytes per seeder, ...]}   payload bytes since the farm started, all torrents (kept across a --churn pause)
  SIGTERM/EOF   {"uploaded": [...], "final": true}, then exit 0
--rate-limit caps each seeder's upload (bytes/s); loopback peers are moved out of libtorrent's
unlimited local peer class so that the cap applies. --rates R1,R2,... caps seeder i at Ri instead
(a heterogeneous swarm, tork bench --seeder-rates).
--churn SECONDS: every SECONDS one seeder leaves (its torrents paused: connections closed, no
uploads) and the one that left before comes back; which one is drawn with --churn-seed, so runs
repeat. Never more than one seeder away at a time.
"""
import argparse
import json
import os
import signal
import sys
import threading
import time

import libtorrent as lt

parser = argparse.ArgumentParser()
parser.add_argument('torrent')
parser.add_argument('data_dir')
parser.add_argument('count', type=int)
parser.add_argument('--also', action='append', default=[])
parser.add_argument('--rate-limit', type=int, default=0)
parser.add_argument('--rates', default='')
parser.add_argument('--churn', type=float, default=0)
parser.add_argument('--churn-seed', type=int, default=17)
parser.add_argument('--seed-mode', action='store_true')
parser.add_argument('--host', default='127.0.0.1')
args = parser.parse_args()

infos = [lt.torrent_info(path) for path in [args.torrent, *args.also]]
sessions = []
handles = []  # per session: one handle per torrent
rates = [int(r) for r in args.rates.split(',') if r] if args.rates else []
if rates and len(rates) != args.count:
    print(json.dumps({'error': f'--rates has {len(rates)} caps for {args.count} seeders'}), flush=True)
    sys.exit(2)
for index in range(args.count):
    limit = rates[index] if rates else args.rate_limit
    session = lt.session({
        'listen_interfaces': f'{args.host}:0',
        'enable_dht': False,
        'enable_lsd': False,
        'enable_upnp': False,
        'enable_natpmp': False,
        'enable_outgoing_utp': False,
        'enable_incoming_utp': False,
        'allow_multiple_connections_per_ip': True,
        'alert_mask': 0,
        'aio_threads': 1,
        'hashing_threads': 1,
        'upload_rate_limit': limit,
        'download_rate_limit': 0,
        'unchoke_slots_limit': -1,
        'seed_choking_algorithm': 0,
    })
    if limit:
        classes = lt.ip_filter()
        classes.add_rule('0.0.0.0', '255.255.255.255', 1 << lt.session.global_peer_class_id)
        session.set_peer_class_filter(classes)
    session_handles = []
    for info in infos:
        params = lt.add_torrent_params()
        params.ti = lt.torrent_info(info)
        params.save_path = args.data_dir
        params.trackers = []
        params.flags &= ~lt.torrent_flags.auto_managed
        params.flags &= ~lt.torrent_flags.paused
        if args.seed_mode:
            params.flags |= lt.torrent_flags.seed_mode
        else:
            params.have_pieces = [True] * info.num_pieces()
            params.flags |= lt.torrent_flags.no_verify_files
        handle = session.add_torrent(params)
        handle.replace_trackers([])
        session_handles.append(handle)
    sessions.append(session)
    handles.append(session_handles)

# Wait until every session listens and every torrent is seeding.
deadline = time.time() + 30
while time.time() < deadline:
    if all(s.listen_port() for s in sessions) and all(h.status().is_seeding for hs in handles for h in hs):
        break
    time.sleep(0.02)
else:
    states = [str(h.status().state) for hs in handles for h in hs]
    print(json.dumps({'error': 'not seeding after 30 s', 'states': states}), flush=True)
    sys.exit(1)

lock = threading.Lock()
churn_lock = threading.Lock()


def emit(document):
    with lock:
        sys.stdout.write(json.dumps(document) + '\n')
        sys.stdout.flush()


# total_payload_upload is live but restarts at 0 when a paused torrent resumes (all_time_upload
# survives that but lags up to a second): --churn banks a seeder's count when it leaves, and
# while it is away only the bank counts.
banked = [0] * len(handles)
away_now = set()


def uploaded():
    with churn_lock:
        return [banked[i] + (0 if i in away_now else sum(h.status().total_payload_upload for h in hs))
                for i, hs in enumerate(handles)]


done = threading.Event()


def finish(*_):
    done.set()


signal.signal(signal.SIGTERM, finish)
signal.signal(signal.SIGINT, finish)


def read_commands():
    for line in sys.stdin:
        if line.strip() == 'stats':
            emit({'uploaded': uploaded()})
    done.set()


def churn():
    import random
    rng = random.Random(args.churn_seed)
    away = None
    while not done.wait(args.churn):
        with churn_lock:
            if away is not None:
                for h in handles[away]:
                    h.resume()
                away_now.discard(away)
            candidates = [i for i in range(len(handles)) if i != away]
            away = rng.choice(candidates) if len(handles) > 1 else None
            if away is not None:
                banked[away] += sum(h.status().total_payload_upload for h in handles[away])
                away_now.add(away)
                for h in handles[away]:
                    h.pause()


emit({'ports': [s.listen_port() for s in sessions], 'pid': os.getpid()})
threading.Thread(target=read_commands, daemon=True).start()
if args.churn > 0:
    threading.Thread(target=churn, daemon=True).start()
while not done.wait(0.5):
    pass
emit({'uploaded': uploaded(), 'final': True})
os._exit(0)
