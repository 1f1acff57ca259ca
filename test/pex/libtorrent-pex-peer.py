"""A libtorrent peer for tork's peer exchange tests.

/usr/bin/python3 libtorrent-pex-peer.py TORRENT SAVE_PATH PORT [--seed] [--upload-limit BYTES_PER_S]
                                        [--connect HOST:PORT]...

Hermetic: no DHT, LSD, UPnP or NAT-PMP, TCP only (no uTP: tork speaks TCP), listens on
127.0.0.1:PORT only (0: a kernel-chosen port, printed first as {"event": "ready", "port": n}); several peers may share 127.0.0.1. Peer exchange (ut_pex) is libtorrent's
default plugin. Seeds stay connected to seeds (close_redundant_connections off), so seeders that
are told to --connect to each other know each other and list each other in their PEX messages.

--seed marks the data as had (seed_mode); otherwise it downloads into SAVE_PATH. --connect dials
those peers at start (and again every 2 s while not connected to them).

Prints one JSON line about every half second: {"event": "status", "progress", "isSeeding",
"peers": [...connected now...], "seen": {...every peer ever connected...}} where each peer is
{"address": "ip:port", "source": libtorrent's source bits, "pex": bool (learned through PEX),
"outgoing": bool, "seed": bool, "client": str}; `seen` ORs the source bits over time. Exits on
SIGTERM.
"""
import argparse
import json
import os
import signal
import sys
import time

import libtorrent as lt

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'support'))
from libtorrent_listen import LISTEN_ALERTS, listening_port  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument('torrent')
parser.add_argument('save_path')
parser.add_argument('port', type=int)
parser.add_argument('--seed', action='store_true')
parser.add_argument('--upload-limit', type=int, default=0)
parser.add_argument('--connect', action='append', default=[])
args = parser.parse_args()

signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

session = lt.session({
    'listen_interfaces': f'127.0.0.1:{args.port}',
    'outgoing_interfaces': '127.0.0.1',
    'enable_dht': False,
    'enable_lsd': False,
    'enable_upnp': False,
    'enable_natpmp': False,
    'allow_multiple_connections_per_ip': True,
    'enable_outgoing_utp': False,
    'enable_incoming_utp': False,
    'close_redundant_connections': False,
    'alert_mask': LISTEN_ALERTS,
    'upload_rate_limit': args.upload_limit,
})
# TCP only, so wherever libtorrent put its (disabled) uTP socket does not matter.
port = listening_port(session, one_port=False)
print(json.dumps({'event': 'ready', 'port': port}), flush=True)
if args.upload_limit:
    # Loopback peers are in libtorrent's unlimited local class by default: put every address in
    # the global class only, where the limit applies.
    classes = lt.ip_filter()
    classes.add_rule('0.0.0.0', '255.255.255.255', 1 << lt.session.global_peer_class_id)
    session.set_peer_class_filter(classes)

params = lt.add_torrent_params()
params.ti = lt.torrent_info(args.torrent)
params.save_path = args.save_path
if args.seed:
    params.flags |= lt.torrent_flags.seed_mode
handle = session.add_torrent(params)

targets = []
for text in args.connect:
    host, port = text.rsplit(':', 1)
    targets.append((host, int(port)))

seen = {}


def describe(peer):
    address = f'{peer.ip[0]}:{peer.ip[1]}'
    client = peer.client.decode('utf-8', 'replace') if isinstance(peer.client, bytes) else str(peer.client)
    return {
        'address': address,
        'source': int(peer.source),
        'pex': bool(peer.source & lt.peer_info.pex),
        'outgoing': bool(peer.flags & lt.peer_info.local_connection),
        'seed': bool(peer.flags & lt.peer_info.seed),
        'client': client,
    }


last_connect = 0.0
while True:
    peers = [describe(peer) for peer in handle.get_peer_info()]
    for peer in peers:
        known = seen.setdefault(peer['address'], dict(peer))
        known['source'] |= peer['source']
        known['pex'] = known['pex'] or peer['pex']
    now = time.time()
    if targets and now - last_connect >= 2:
        last_connect = now
        connected = {peer['address'] for peer in peers}
        for host, port in targets:
            if f'{host}:{port}' not in connected:
                handle.connect_peer((host, port))
    status = handle.status()
    print(json.dumps({
        'event': 'status',
        'progress': status.progress,
        'isSeeding': status.is_seeding,
        'peers': peers,
        'seen': seen,
    }), flush=True)
    time.sleep(0.5)
    session.pop_alerts()
