"""libtorrent downloads a magnet link for tork's tests: python3 libtorrent-magnet.py MAGNET SAVE_PATH PORT PEER TIMEOUT

Hermetic: no DHT, LSD, UPnP, NAT-PMP or uTP; listens on 127.0.0.1:PORT; dials PEER (host:port) for
the metadata (BEP 9) and the data. Prints {"event": "metadata"} when the metadata arrives, {"event": "first-piece"} at the first
piece verified, then
{"event": "done", "infoHash": ..., "name": ...} and exits 0 once it has every piece; exits 2 with
{"event": "timeout"} after TIMEOUT seconds.
"""
import json
import signal
import sys
import time

import libtorrent as lt

magnet, save_path, port, peer, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], float(sys.argv[5])
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
params = lt.parse_magnet_uri(magnet)
params.save_path = save_path
handle = session.add_torrent(params)
host, peer_port = peer.rsplit(':', 1)
started = time.time()
said_metadata = False
said_piece = False
last_dial = 0.0
while True:
    if time.time() - last_dial > 2:
        handle.connect_peer((host, int(peer_port)))
        last_dial = time.time()
    status = handle.status()
    if status.has_metadata and not said_metadata:
        said_metadata = True
        print(json.dumps({'event': 'metadata', 'seconds': round(time.time() - started, 2)}), flush=True)
    if status.num_pieces > 0 and not said_piece:
        said_piece = True
        print(json.dumps({'event': 'first-piece', 'seconds': round(time.time() - started, 2)}), flush=True)
    if status.is_seeding:
        info = handle.torrent_file()
        print(json.dumps({'event': 'done', 'infoHash': str(info.info_hash()), 'name': info.name(),
                          'seconds': round(time.time() - started, 2)}), flush=True)
        sys.exit(0)
    if time.time() - started > timeout:
        print(json.dumps({'event': 'timeout', 'state': str(status.state)}), flush=True)
        sys.exit(2)
    time.sleep(0.05)
