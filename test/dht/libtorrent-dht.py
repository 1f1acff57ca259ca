"""A loopback DHT of libtorrent nodes for tork's DHT interop tests.

python3 libtorrent-dht.py NODES [TORRENT DATA_DIR SEEDERS]

Starts NODES libtorrent sessions, node i on 127.0.0.(10+i) with the DHT only (no LSD, UPnP,
NAT-PMP, trackers), with the settings a loopback DHT needs (INTEROP-NOTES): same-IP restrictions
off, the per-IP DHT rate limit raised. Node 0 bootstraps from nobody, the others from node 0 and
know every node started before them. Nothing points outside 127.0.0.0/8. If TORRENT is given,
nodes 1..SEEDERS seed it from DATA_DIR (seed mode) and announce it to the DHT; 'ready' is printed
once node 0 finds them all with get_peers.

Output: JSON lines. {"event":"ready","nodes":[{"host","port"}...]} first; then answers to commands.
Commands on stdin, JSON lines:
  {"cmd":"get_peers","infohash":HEX}                 -> {"event":"peers","infohash":HEX,"peers":["ip:port"...]}
  {"cmd":"download","torrent":PATH,"save":DIR}       -> a new node downloads with the DHT only;
  {"cmd":"download","magnet":URI,"save":DIR}         -> the same from a magnet link (metadata too);
      "leave":true: the torrent is removed once finished (it does not stay on as a seeder);
      "tcp":true: the new node speaks TCP only (no uTP), as tork does;
      {"event":"download-started","host","port"}, {"event":"download-metadata","seconds"},
      {"event":"download-first-piece","seconds"}, then {"event":"finished","peers":["ip:port"...],"seconds"}
      (seconds from the command, the new node's start included)
Exits on SIGTERM or when stdin closes.
"""
import json
import select
import signal
import sys
import time

import libtorrent as lt

FIRST_IP = 10


def emit(event, **data):
    print(json.dumps({'event': event, **data}), flush=True)


def settings(ip, bootstrap):
    return {
        'listen_interfaces': f'{ip}:0',
        'outgoing_interfaces': ip,
        'enable_dht': True,
        'enable_lsd': False,
        'enable_upnp': False,
        'enable_natpmp': False,
        # Loopback only: never the default bootstrap routers.
        'dht_bootstrap_nodes': bootstrap,
        'dht_restrict_routing_ips': False,
        'dht_restrict_search_ips': False,
        'dht_enforce_node_id': False,
        'dht_ignore_dark_internet': False,
        'dht_prefer_verified_node_ids': False,
        'dht_block_ratelimit': 100000,
        'allow_multiple_connections_per_ip': True,
        'alert_mask': lt.alert.category_t.dht_notification | lt.alert.category_t.dht_operation_notification
        | lt.alert.category_t.status_notification
        | lt.alert.category_t.error_notification,
    }


def start_node(index, bootstrap, known, tcp_only=False):
    ip = f'127.0.0.{FIRST_IP + index}'
    chosen = settings(ip, bootstrap)
    if tcp_only:
        chosen.update({'enable_outgoing_utp': False, 'enable_incoming_utp': False})
    session = lt.session(chosen)
    deadline = time.time() + 15
    while session.listen_port() == 0:
        if time.time() > deadline:
            raise RuntimeError(f'node {index} did not listen')
        time.sleep(0.05)
    for host, port in known:
        session.add_dht_node((host, port))
    return {'session': session, 'host': ip, 'port': session.listen_port()}


def drain(node):
    return node['session'].pop_alerts()


def get_peers(node, info_hash, timeout=10.0):
    """A full get_peers walk from `node`; the peers it returned ('ip:port')."""
    node['session'].dht_get_peers(info_hash)
    found = set()
    deadline = time.time() + timeout
    while time.time() < deadline:
        for alert in drain(node):
            if isinstance(alert, lt.dht_get_peers_reply_alert) and str(alert.info_hash) == str(info_hash):
                for host, port in alert.peers():
                    found.add(f'{host}:{port}')
                return sorted(found)
        time.sleep(0.1)
    return sorted(found)


def main():
    count = int(sys.argv[1])
    torrent = sys.argv[2] if len(sys.argv) > 2 else None
    data_dir = sys.argv[3] if len(sys.argv) > 3 else None
    seeders = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    nodes = [start_node(0, '', [])]
    first = f"{nodes[0]['host']}:{nodes[0]['port']}"
    for index in range(1, count):
        nodes.append(start_node(index, first, [(n['host'], n['port']) for n in nodes]))
    # Node 0 learns of everyone too.
    for node in nodes[1:]:
        nodes[0]['session'].add_dht_node((node['host'], node['port']))

    handles = []
    if torrent:
        info = lt.torrent_info(torrent)
        for node in nodes[1:1 + seeders]:
            params = lt.add_torrent_params()
            params.ti = info
            params.save_path = data_dir
            params.flags |= lt.torrent_flags.seed_mode
            handles.append(node['session'].add_torrent(params))
        info_hash = info.info_hashes().v1
        deadline = time.time() + 90
        while True:
            for handle in handles:
                handle.force_dht_announce()
            time.sleep(2)
            peers = get_peers(nodes[0], info_hash)
            if len(peers) >= seeders:
                break
            if time.time() > deadline:
                emit('error', message=f'seeders not found in the DHT after 90 s: {peers}')
                return
    emit('ready', nodes=[{'host': n['host'], 'port': n['port']} for n in nodes])

    downloads = []
    while True:
        # Polled every 20 ms while a download runs: its moments are timed (scripts/magnet-bench.mjs).
        busy = any(not download.get('done') for download in downloads)
        readable, _, _ = select.select([sys.stdin], [], [], 0.02 if busy else 0.5)
        if readable:
            line = sys.stdin.readline()
            if not line:
                return
            command = json.loads(line)
            if command['cmd'] == 'get_peers':
                info_hash = lt.sha1_hash(bytes.fromhex(command['infohash']))
                emit('peers', infohash=command['infohash'], peers=get_peers(nodes[0], info_hash))
            elif command['cmd'] == 'download':
                started = time.time()
                node = start_node(len(nodes), first, [(n['host'], n['port']) for n in nodes],
                                  command.get('tcp', False))
                nodes.append(node)
                if 'magnet' in command:
                    params = lt.parse_magnet_uri(command['magnet'])
                else:
                    params = lt.add_torrent_params()
                    params.ti = lt.torrent_info(command['torrent'])
                params.save_path = command['save']
                handle = node['session'].add_torrent(params)
                downloads.append({'handle': handle, 'node': node, 'peers': set(), 'last': 0.0, 'started': started,
                                  'leave': command.get('leave', False)})
                emit('download-started', host=node['host'], port=node['port'])
        for download in downloads:
            if download.get('done'):
                continue
            handle = download['handle']
            for peer in handle.get_peer_info():
                download['peers'].add(f'{peer.ip[0]}:{peer.ip[1]}')
            status = handle.status()
            seconds = round(time.time() - download['started'], 3)
            if status.has_metadata and not download.get('metadata'):
                download['metadata'] = True
                emit('download-metadata', seconds=seconds)
            if status.num_pieces > 0 and not download.get('first-piece'):
                download['first-piece'] = True
                emit('download-first-piece', seconds=seconds)
            if status.is_seeding and not download.get('done'):
                download['done'] = True
                emit('finished', peers=sorted(download['peers']), seconds=seconds)
                if download.get('leave'):
                    # A benchmark's downloader leaves once done, as a tork downloader exits:
                    # the swarm each run meets stays the same.
                    download['node']['session'].remove_torrent(handle)
            elif not download.get('done') and time.time() - download['last'] > 5:
                # libtorrent announces on its own timers; nudge it while nothing has been found.
                download['last'] = time.time()
                handle.force_dht_announce()
                emit('progress', progress=status.progress, peers=status.num_peers)
        for node in nodes:
            drain(node)


main()
