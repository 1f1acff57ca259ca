"""libtorrent for the interop matrix: python3 libtorrent-peer.py seed|leech TORRENT DIR PORT [DIAL host:port]

Hermetic: no DHT, LSD, UPnP, NAT-PMP or uTP; listens on 127.0.0.1:PORT; several peers may share
127.0.0.1; finds peers through the torrent's tracker and, with DIAL, dials that peer every 2 s
(for Transmission, which never dials a loopback peer itself). A seeder marks the data as had
(seed_mode) and prints 'ready'; a leecher prints 'done' and exits 0 once it has every piece.
"""
import signal
import sys
import time

import libtorrent as lt

mode, torrent, data_dir, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
dial = sys.argv[5] if len(sys.argv) > 5 else None
signal.signal(signal.SIGTERM, lambda *_: sys.exit(3))
session = lt.session({
    'listen_interfaces': f'127.0.0.1:{port}',
    'outgoing_interfaces': '127.0.0.1',
    'enable_dht': False,
    'enable_lsd': False,
    'enable_upnp': False,
    'enable_natpmp': False,
    'enable_outgoing_utp': False,
    'enable_incoming_utp': False,
    'allow_multiple_connections_per_ip': True,
    'alert_mask': 0,
})
params = lt.add_torrent_params()
params.ti = lt.torrent_info(torrent)
params.save_path = data_dir
if mode == 'seed':
    params.flags |= lt.torrent_flags.seed_mode
handle = session.add_torrent(params)
print('ready', flush=True)
last_dial = 0.0
while True:
    if dial and time.time() - last_dial > 2:
        host, peer_port = dial.rsplit(':', 1)
        handle.connect_peer((host, int(peer_port)))
        last_dial = time.time()
    if mode == 'leech' and handle.status().is_seeding:
        print('done', flush=True)
        sys.exit(0)
    time.sleep(0.05)
