# Usage: /usr/bin/python3 libtorrent-download.py TORRENT SAVE_PATH  -> downloads through the torrent's tracker, exits 0 once seeding (tork bench's libtorrent downloader).
"""libtorrent as a downloader for tork bench: default settings, except hermetic ones.

No DHT, LSD, UPnP, NAT-PMP; TCP only (uTP off, as for every client in the bench); several peers
may share 127.0.0.1; listens on a kernel-chosen port of 127.0.0.1. Finds the seeders through
the torrent's (the bench's) tracker. Prints one JSON line at the end and exits 0 once seeding
(every piece downloaded and hash-checked), 3 on SIGTERM.
"""
import json
import signal
import sys
import time

import libtorrent as lt

torrent, save_path = sys.argv[1], sys.argv[2]
signal.signal(signal.SIGTERM, lambda *_: sys.exit(3))
session = lt.session({
    'listen_interfaces': '127.0.0.1:0',
    'outgoing_interfaces': '127.0.0.1',
    'enable_dht': False,
    'enable_lsd': False,
    'enable_upnp': False,
    'enable_natpmp': False,
    'allow_multiple_connections_per_ip': True,
    'enable_outgoing_utp': False,
    'enable_incoming_utp': False,
    'alert_mask': 0,
})
params = lt.add_torrent_params()
params.ti = lt.torrent_info(torrent)
params.save_path = save_path
handle = session.add_torrent(params)
started = time.time()
while not handle.status().is_seeding:
    time.sleep(0.05)
status = handle.status()
print(json.dumps({'event': 'done', 'seconds': round(time.time() - started, 3),
                  'downloaded': status.total_payload_download, 'peers': status.num_peers}), flush=True)
