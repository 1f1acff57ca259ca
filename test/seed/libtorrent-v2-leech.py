"""A libtorrent leecher of a v2-only or hybrid torrent seeded by tork, for tork's BEP 52 seeding tests.

  /usr/bin/python3 libtorrent-v2-leech.py SOURCE SAVE_PATH SEEDER_PORT TIMEOUT_SECONDS

SOURCE is a .torrent path (piece layers included) or a magnet link (e.g. `urn:btmh:` alone: libtorrent
then knows only the v2 info-hash, fetches the info dictionary from the seeder (BEP 9) and the piece
layers with BEP 52 hash requests). The seeder at 127.0.0.1:SEEDER_PORT is added by hand. Hermetic:
no DHT, LSD, UPnP, NAT-PMP, trackers, uTP; 127.0.0.1 only. Prints one last JSON line
{"event": "done"|"timeout"|"inconsistent-hashes", "infoHashV1", "infoHashV2", "libtorrent", "seconds",
"alerts"}; exits 0 once seeding (everything downloaded and checked), 2 on timeout, 3 on SIGTERM, 4 at
once when libtorrent stops the torrent with its error 217 ("v1 and v2 hashes do not describe the same
data"): libtorrent before 2.0.11 raises it for a hybrid whose piece layer arrives while a piece that
passed its check is still being written (see `INCONSISTENT_HASHES` in v2-seed.test.ts).
"""
import json
import signal
import sys
import time

import libtorrent as lt

source, save_path, seeder_port, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
signal.signal(signal.SIGTERM, lambda *_: sys.exit(3))

session = lt.session({
    'listen_interfaces': '127.0.0.1:0',
    'outgoing_interfaces': '127.0.0.1',
    'enable_dht': False,
    'enable_lsd': False,
    'enable_upnp': False,
    'enable_natpmp': False,
    'enable_outgoing_utp': False,
    'enable_incoming_utp': False,
    'allow_multiple_connections_per_ip': True,
    'alert_mask': int(lt.alert.category_t.error_notification | lt.alert.category_t.peer_notification
                      | lt.alert.category_t.status_notification),
})
if source.startswith('magnet:'):
    params = lt.parse_magnet_uri(source)
else:
    params = lt.add_torrent_params()
    params.ti = lt.torrent_info(source)
params.save_path = save_path
handle = session.add_torrent(params)
handle.connect_peer(('127.0.0.1', seeder_port))

alerts = []
started = time.time()
last_connect = started


# libtorrent's errors::torrent_inconsistent_hashes.
INCONSISTENT_HASHES = 217


def summary(event):
    hashes = handle.info_hashes()
    return {
        'event': event,
        'libtorrent': lt.__version__,
        'infoHashV1': str(hashes.v1) if hashes.has_v1() else None,
        'infoHashV2': str(hashes.v2) if hashes.has_v2() else None,
        'progress': handle.status().progress,
        'seconds': round(time.time() - started, 2),
        'alerts': alerts[-30:],
    }


while True:
    session.wait_for_alert(100)
    inconsistent = False
    for alert in session.pop_alerts():
        alerts.append(f'{type(alert).__name__}: {alert.message()}')
        if isinstance(alert, lt.torrent_error_alert) and alert.error.value() == INCONSISTENT_HASHES:
            inconsistent = True
    if inconsistent:
        print(json.dumps(summary('inconsistent-hashes')), flush=True)
        sys.exit(4)
    status = handle.status()
    if status.is_seeding:
        print(json.dumps(summary('done')), flush=True)
        sys.exit(0)
    now = time.time()
    if now - started > timeout:
        print(json.dumps(summary('timeout')), flush=True)
        sys.exit(2)
    # A dropped connection (e.g. before the seeder was ready) is tried again.
    if status.num_peers == 0 and now - last_connect > 2:
        last_connect = now
        handle.connect_peer(('127.0.0.1', seeder_port))
