"""A libtorrent peer with a chosen encryption policy, for tork's MSE/PE interop tests.

  python3 libtorrent-mse-peer.py seed TORRENT DATA_DIR PORT POLICY
  python3 libtorrent-mse-peer.py download TORRENT SAVE_DIR PORT POLICY PEER[,PEER...] TIMEOUT_SECONDS

PORT 0: a kernel-chosen one, the same for TCP and uTP (see test/support/libtorrent_listen.py;
exits 4 when libtorrent could not listen on one port for both: start it again).

POLICY: `forced-rc4` (in/out pe_forced, RC4 only), `forced-plaintext` (pe_forced, the
obfuscated header then plaintext), `enabled` (libtorrent's default: both ways, either), `disabled`
(plain BitTorrent only). Hermetic: no DHT, LSD, UPnP, NAT-PMP, 127.0.0.1 only. The transport is
TCP only unless LT_TRANSPORT says `utp` (uTP only, both ways: TCP neither dialled nor accepted) or
`both` (libtorrent's default: uTP tried first). The uTP interop tests use this script too.
Seed: prints {"event":"ready","port":PORT} (after LT_START_DELAY seconds paused, if set, {"event":"started"}),
then a line per second with every peer seen so far (sampled every 0.1 s). Download: dials each PEER
(host:port), prints {"event":"done","peers":[...]} and exits 0 once complete, 2 on timeout.
Each peer: {"address","client","rc4","plaintextEncrypted","utp","downloaded","uploaded"}. Exits on SIGTERM.
"""
import json
import os
import signal
import sys
import time

import libtorrent as lt

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'support'))
from libtorrent_listen import LISTEN_ALERTS, listening_port  # noqa: E402

mode = sys.argv[1]
torrent, directory, port, policy = sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
signal.signal(signal.SIGTERM, lambda *_: sys.exit(3))

POLICIES = {
    'forced-rc4': (lt.enc_policy.forced, lt.enc_level.rc4),
    'forced-plaintext': (lt.enc_policy.forced, lt.enc_level.plaintext),
    'enabled': (lt.enc_policy.enabled, lt.enc_level.both),
    'disabled': (lt.enc_policy.disabled, lt.enc_level.both),
}
enc_policy, enc_level = POLICIES[policy]
transport = os.environ.get('LT_TRANSPORT', 'tcp')
assert transport in ('tcp', 'utp', 'both'), transport
# peer_info::utp_socket (libtorrent 2.0: bit 17; the Python binding does not name it).
UTP_SOCKET = 1 << 17
session = lt.session({
    'listen_interfaces': f'127.0.0.1:{port}',
    'outgoing_interfaces': '127.0.0.1',
    'enable_dht': False,
    'enable_lsd': False,
    'enable_upnp': False,
    'enable_natpmp': False,
    'enable_outgoing_utp': transport != 'tcp',
    'enable_incoming_utp': transport != 'tcp',
    'enable_outgoing_tcp': transport != 'utp',
    'enable_incoming_tcp': transport != 'utp',
    'allow_multiple_connections_per_ip': True,
    'out_enc_policy': int(enc_policy),
    'in_enc_policy': int(enc_policy),
    'allowed_enc_level': int(enc_level),
    'prefer_rc4': enc_level == lt.enc_level.rc4,
    'alert_mask': LISTEN_ALERTS,
})
# A seeder is dialled on one port by TCP and uTP alike; a downloader only dials out.
port = listening_port(session, one_port=mode == 'seed')
params = lt.add_torrent_params()
params.ti = lt.torrent_info(torrent)
params.save_path = directory
if mode == 'seed':
    params.flags |= lt.torrent_flags.seed_mode
# Not auto-managed: an auto-managed torrent is added paused and started at the session's next
# tick (~0.5 s), and until then libtorrent drops every connection for it (even the encrypted
# handshake, which it cannot match to a torrent). LT_START_DELAY (seconds) keeps the torrent
# paused that long after "ready", on purpose: a peer that listens before its torrent runs.
start_delay = float(os.environ.get('LT_START_DELAY', '0'))
params.flags &= ~lt.torrent_flags.auto_managed
if start_delay > 0:
    params.flags |= lt.torrent_flags.paused
else:
    params.flags &= ~lt.torrent_flags.paused
handle = session.add_torrent(params)

seen = {}


def peers():
    for peer in handle.get_peer_info():
        address = f'{peer.ip[0]}:{peer.ip[1]}'
        seen[address] = {
            'address': address,
            'client': peer.client.decode('utf-8', 'replace') if isinstance(peer.client, bytes) else peer.client,
            'rc4': bool(peer.flags & lt.peer_info.rc4_encrypted),
            'plaintextEncrypted': bool(peer.flags & lt.peer_info.plaintext_encrypted),
            'utp': bool(int(peer.flags) & UTP_SOCKET),
            'downloaded': peer.total_download,
            'uploaded': peer.total_upload,
        }
    return list(seen.values())


def emit(event, **data):
    print(json.dumps({'event': event, **data}), flush=True)


if mode == 'seed':
    emit('ready', port=port)
    if start_delay > 0:
        time.sleep(start_delay)
        handle.resume()
        emit('started')
    # Peers are sampled ten times a second and reported once a second: a downloader that connects,
    # finishes and leaves within one report (tork on loopback, since its slow start) is still seen.
    while True:
        for _ in range(10):
            time.sleep(0.1)
            peers()
        session.pop_alerts()
        emit('peers', peers=peers())

targets = [(host, int(port)) for host, port in (entry.rsplit(':', 1) for entry in sys.argv[6].split(','))]
deadline = time.time() + float(sys.argv[7])
started = time.time()
for target in targets:
    handle.connect_peer(target)
last_dial = time.time()
while time.time() < deadline:
    time.sleep(0.2)
    session.pop_alerts()
    status = handle.status()
    peers()
    if status.is_seeding:
        emit('done', peers=list(seen.values()), seconds=round(time.time() - started, 3))
        sys.exit(0)
    if status.num_peers < len(targets) and time.time() - last_dial > 5:
        for target in targets:
            handle.connect_peer(target)
        last_dial = time.time()
emit('timeout', peers=list(seen.values()), progress=handle.status().progress)
sys.exit(2)
