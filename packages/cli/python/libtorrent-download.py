# Usage: /usr/bin/python3 libtorrent-download.py TORRENT SAVE_PATH  -> downloads through the torrent's tracker, exits 0 once seeding (tork bench's libtorrent downloader).
"""libtorrent as a downloader for tork bench: default settings, except hermetic ones.

No DHT, LSD, UPnP, NAT-PMP; TCP only (uTP off, as for every client in the bench); several peers
may share 127.0.0.1; listens on a kernel-chosen port of 127.0.0.1. Finds the seeders through
the torrent's (the bench's) tracker. Prints one JSON line at the end and exits 0 once seeding
(every piece downloaded and hash-checked), 3 on SIGTERM.
"""
import json
import os
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
    # Piece alerts only: the time of the first verified piece.
    'alert_mask': lt.alert.category_t.piece_progress_notification,
})
params = lt.add_torrent_params()
params.ti = lt.torrent_info(torrent)
params.save_path = save_path
handle = session.add_torrent(params)
started = time.time()
# ms since this process started (as tork's sinceStartMs): the first peer connected, the first piece verified.
try:
    with open('/proc/self/stat') as stat_file:
        ticks = int(stat_file.read().rsplit(')', 1)[1].split()[19])
    with open('/proc/uptime') as uptime_file:
        uptime = float(uptime_file.read().split()[0])
    process_start = time.time() - (uptime - ticks / os.sysconf('SC_CLK_TCK'))
except (OSError, ValueError, IndexError):
    process_start = started
firsts = {}


def read_alerts():
    for alert in session.pop_alerts():
        if isinstance(alert, lt.piece_finished_alert) and 'firstPieceMs' not in firsts:
            firsts['firstPieceMs'] = round((time.time() - process_start) * 1000, 1)


def handshaken(peer):
    return not peer.flags & (lt.peer_info.connecting | lt.peer_info.handshake)


# These bindings have no peer_connected_alert: until the first peer has finished its handshake the
# peer list is polled every 5 ms (as close as the alert would be), then alerts every 50 ms.
while not handle.status().is_seeding:
    if 'firstPeerMs' not in firsts:
        session.wait_for_alert(5)
        if any(handshaken(peer) for peer in handle.get_peer_info()):
            firsts['firstPeerMs'] = round((time.time() - process_start) * 1000, 1)
    else:
        session.wait_for_alert(50)
    read_alerts()
read_alerts()
status = handle.status()
print(json.dumps({'event': 'done', 'seconds': round(time.time() - started, 3),
                  'downloaded': status.total_payload_download, 'peers': status.num_peers,
                  'startup': firsts}), flush=True)
# The session is torn down here, in order, while the interpreter is whole: CI20 saw this process
# die of SIGSEGV (exit -11) once, and after its result the only work left is the interpreter's
# teardown, which frees module globals in no set order (a handle or torrent_info after its
# session). Not os._exit: libtorrent completes its file writes only as the session ends (tried:
# files differed).
del handle, params
del session
