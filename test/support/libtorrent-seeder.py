"""A libtorrent seeder for tork's interop tests: python3 libtorrent-seeder.py TORRENT DATA_DIR PORT.

Hermetic: no DHT, LSD, UPnP or NAT-PMP; several peers may share 127.0.0.1. The data is marked as
had (seed_mode: pieces are hashed on first request instead of a start-up check). Prints 'ready'
once listening; exits on SIGTERM.
"""
import signal
import sys
import time

import libtorrent as lt

torrent, data_dir, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
session = lt.session({
    'listen_interfaces': f'127.0.0.1:{port}',
    'enable_dht': False,
    'enable_lsd': False,
    'enable_upnp': False,
    'enable_natpmp': False,
    'allow_multiple_connections_per_ip': True,
    'alert_mask': 0,
})
params = lt.add_torrent_params()
params.ti = lt.torrent_info(torrent)
params.save_path = data_dir
params.flags |= lt.torrent_flags.seed_mode
session.add_torrent(params)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
print('ready', flush=True)
while True:
    time.sleep(1)
