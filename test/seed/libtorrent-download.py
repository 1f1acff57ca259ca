"""A libtorrent downloader for tork's seeding tests.

/usr/bin/python3 libtorrent-download.py TORRENT SAVE_PATH PORT TIMEOUT_SECONDS

Hermetic: no DHT, LSD, UPnP or NAT-PMP, TCP only (no uTP); listens on 127.0.0.1:PORT only; several peers may share
127.0.0.1. Finds peers through the torrent's tracker. Prints one JSON line per second
({"event": "status", ...}) and a last line {"event": "done"|"timeout", ...} with the info-hash
libtorrent computed and the peers it saw (not itself); exits 0 once seeding (download complete and checked),
2 on timeout. Exits on SIGTERM.
"""
import json
import random
import signal
import sys
import time

import libtorrent as lt

torrent, save_path, port, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
signal.signal(signal.SIGTERM, lambda *_: sys.exit(3))
# Our own peer-id prefix, unique to this run: a connection to ourselves shows it on both its ends.
FINGERPRINT = f'-LD{random.randrange(10_000):04d}-'

session = lt.session({
    'listen_interfaces': f'127.0.0.1:{port}',
    'outgoing_interfaces': '127.0.0.1',
    'enable_dht': False,
    'enable_lsd': False,
    'enable_upnp': False,
    'enable_natpmp': False,
    'allow_multiple_connections_per_ip': True,
    # tork speaks TCP only: an outgoing uTP attempt first costs ~3 s before libtorrent falls back.
    'enable_outgoing_utp': False,
    'enable_incoming_utp': False,
    'peer_fingerprint': FINGERPRINT,
    'alert_mask': lt.alert.category_t.error_notification | lt.alert.category_t.tracker_notification,
})
info = lt.torrent_info(torrent)
params = lt.add_torrent_params()
params.ti = info
params.save_path = save_path
handle = session.add_torrent(params)
info_hash = str(info.info_hashes().v1 if hasattr(info, 'info_hashes') else info.info_hash())

peers = {}
alerts = []


def snapshot(event):
    s = handle.status()
    return {
        'event': event,
        'infoHash': info_hash,
        'state': str(s.state),
        'progress': s.progress,
        'totalDone': s.total_done,
        'totalWanted': s.total_wanted,
        'downloaded': s.total_payload_download,
        'numPeers': s.num_peers,
        'isSeeding': s.is_seeding,
        'peers': list(peers.values()),
        'alerts': alerts[-20:],
        'seconds': round(time.time() - started, 2),
    }


started = time.time()
last_print = 0.0
while True:
    for alert in session.pop_alerts():
        alerts.append(f'{type(alert).__name__}: {alert.message()}')
    # The tracker lists this downloader too, and libtorrent dials it once before the handshake's
    # peer id shows the connection is to itself: neither end of it is reported. CI37 saw the dialling
    # end ("libtorrent 2.0.8" at our own port), CI69 the accepting end (from an ephemeral port),
    # while the tork seeders alone served the data: our own address, or our peer-id prefix.
    own = f'127.0.0.1:{session.listen_port()}'
    for peer in handle.get_peer_info():
        key = f'{peer.ip[0]}:{peer.ip[1]}'
        if key == own or peer.pid.to_bytes().startswith(FINGERPRINT.encode()):
            continue
        entry = peers.setdefault(key, {'address': key, 'client': '', 'downloaded': 0})
        entry['client'] = peer.client.decode('utf-8', 'replace') if isinstance(peer.client, bytes) else str(peer.client)
        entry['downloaded'] = max(entry['downloaded'], peer.total_download)
    status = handle.status()
    if status.is_seeding:
        print(json.dumps(snapshot('done')), flush=True)
        sys.exit(0)
    now = time.time()
    if now - started > timeout:
        print(json.dumps(snapshot('timeout')), flush=True)
        sys.exit(2)
    if now - last_print >= 1:
        last_print = now
        print(json.dumps(snapshot('status')), flush=True)
    time.sleep(0.1)
