"""A libtorrent seeder of a v2-only or hybrid torrent it creates itself, for tork's BEP 52 wire tests.

  python3 libtorrent-v2-seeder.py DIR PORT MODE PIECE_LENGTH FILE_LENGTH

MODE: `v2` (create_torrent v2_only) or `hybrid` (libtorrent's default: v1 and v2). Writes
DIR/data/a.bin (FILE_LENGTH random bytes), creates the torrent with PIECE_LENGTH pieces, seeds it
on 127.0.0.1:PORT (0: a kernel-chosen one), then prints one line {"event": "ready", "infoHashV1": hex or null,
"infoHashV2": hex, "pieceLength": n, "listenPort": n, "files": [{"root": hex, "length": n, "pieceLayer": hex}]}.
Hermetic: no DHT, LSD, UPnP, NAT-PMP, 127.0.0.1 only, TCP only. Exits on SIGTERM.
"""
import json
import os
import signal
import sys
import time

import libtorrent as lt

directory, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
piece_length, file_length = int(sys.argv[4]), int(sys.argv[5])
assert mode in ('v2', 'hybrid'), mode
signal.signal(signal.SIGTERM, lambda *_: sys.exit(3))

data = os.path.join(directory, 'data')
os.makedirs(data, exist_ok=True)
with open(os.path.join(data, 'a.bin'), 'wb') as out:
    out.write(os.urandom(file_length))

fs = lt.file_storage()
lt.add_files(fs, os.path.join(data, 'a.bin'))
flags = lt.create_torrent.v2_only if mode == 'v2' else 0
creator = lt.create_torrent(fs, piece_length, flags=flags)
lt.set_piece_hashes(creator, data)
generated = creator.generate()
info = lt.torrent_info(lt.bencode(generated))

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
    # Peer errors and disconnects are printed (stderr), to say why a connection was closed.
    'alert_mask': int(lt.alert.category_t.error_notification | lt.alert.category_t.peer_notification
                      | lt.alert.category_t.connect_notification | lt.alert.category_t.status_notification),
})
params = lt.add_torrent_params()
params.ti = info
params.save_path = data
params.flags |= lt.torrent_flags.seed_mode
handle = session.add_torrent(params)
# Ready once listening and seeding. The listen socket opens asynchronously (a connection accepted
# before `listen_succeeded` is reset), and until the torrent seeds, unpaused, it drops its peers.
listening = False
deadline = time.time() + 15


def serving():
    status = handle.status()
    return status.is_seeding and not (status.flags & lt.torrent_flags.paused)


while time.time() < deadline and not (listening and serving()):
    session.wait_for_alert(100)
    for alert in session.pop_alerts():
        print(f'alert: {alert.what()}: {alert.message()}', file=sys.stderr, flush=True)
        if isinstance(alert, lt.listen_succeeded_alert):
            listening = True

hashes = info.info_hashes()
layers = generated.get(b'piece layers', {})
files = []
for index in range(info.files().num_files()):
    root = info.files().root(index).to_bytes()
    files.append({
        'root': root.hex(),
        'length': info.files().file_size(index),
        'pieceLayer': layers.get(root, b'').hex(),
    })
print(json.dumps({
    'event': 'ready',
    'infoHashV1': hashes.v1.to_bytes().hex() if hashes.has_v1() else None,
    'infoHashV2': hashes.v2.to_bytes().hex(),
    'pieceLength': piece_length,
    'seeding': handle.status().is_seeding,
    'listenPort': session.listen_port(),
    'files': files,
}), flush=True)
while True:
    session.wait_for_alert(1000)
    for alert in session.pop_alerts():
        print(f'alert: {alert.what()}: {alert.message()}', file=sys.stderr, flush=True)
