"""A libtorrent seeder for tork's interop tests: python3 libtorrent-seeder.py TORRENT DATA_DIR PORT [UPLOAD_LIMIT].

UPLOAD_LIMIT (bytes per second, optional) slows it down so a test can act mid-download.

Hermetic: no DHT, LSD, UPnP or NAT-PMP; several peers may share 127.0.0.1. The data is marked as
had (seed_mode: pieces are hashed on first request instead of a start-up check). PORT 0 lets the
kernel choose (the same for TCP and uTP, or exit 4: see libtorrent_listen.py). Prints
{"event": "ready", "port": PORT} once listening; exits on SIGTERM.
"""
import json
import signal
import sys
import time

import libtorrent as lt
from libtorrent_listen import LISTEN_ALERTS, listening_port

torrent, data_dir, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
upload_limit = int(sys.argv[4]) if len(sys.argv) > 4 else 0
session = lt.session({
    'listen_interfaces': f'127.0.0.1:{port}',
    'enable_dht': False,
    'enable_lsd': False,
    'enable_upnp': False,
    'enable_natpmp': False,
    'allow_multiple_connections_per_ip': True,
    'alert_mask': LISTEN_ALERTS,
    'upload_rate_limit': upload_limit,
})
port = listening_port(session)
if upload_limit:
    # Loopback peers are in libtorrent's unlimited local class by default: put every address in
    # the global class only, where the limit applies.
    classes = lt.ip_filter()
    classes.add_rule('0.0.0.0', '255.255.255.255', 1 << lt.session.global_peer_class_id)
    session.set_peer_class_filter(classes)
params = lt.add_torrent_params()
params.ti = lt.torrent_info(torrent)
params.save_path = data_dir
params.flags |= lt.torrent_flags.seed_mode
# Not auto-managed: an auto-managed torrent is added paused and started at the session's next tick
# (~0.5 s), and until then libtorrent drops every connection for it. A test that dials the seeder
# started last at once lost that connection and redialled too late (CI23: the trace test's slow
# seeder got no piece before the download ended, so trace-summary could not name it).
params.flags &= ~lt.torrent_flags.auto_managed
params.flags &= ~lt.torrent_flags.paused
session.add_torrent(params)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
print(json.dumps({'event': 'ready', 'port': port}), flush=True)
while True:
    time.sleep(1)
    session.pop_alerts()
