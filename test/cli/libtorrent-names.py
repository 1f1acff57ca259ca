"""Builds odd-name torrents (v2-only trees and v1 lists) in OUT_DIR and prints, as JSON, the paths
python3-libtorrent gives their files (pad files left out), for tork's names interop test:
python3 libtorrent-names.py OUT_DIR. Nothing leaves the machine: torrents are written and parsed."""
import hashlib
import json
import os
import sys

import libtorrent as lt

out_dir = sys.argv[1]
BITCOMET = b'_____padding_file_0_if you see this file, please update to BitComet 0.85 or above____'


def v2_only(entries):
    tree = {}
    for path, data in entries:
        node = tree
        for comp in path[:-1]:
            node = node.setdefault(comp, {})
        leaf = {b'length': len(data)}
        if data:
            leaf[b'pieces root'] = hashlib.sha256(data).digest()  # one 16 KiB leaf: its hash is the root
        node[path[-1]] = {b'': leaf}
    info = {b'name': b'set', b'piece length': 16384, b'meta version': 2, b'file tree': tree}
    return lt.bencode({b'info': info})


def v1(entries, plen=16384):
    files, payload = [], b''
    for path, data in entries:
        files.append({b'length': len(data), b'path': path})
        payload += data
    pieces = b''.join(hashlib.sha1(payload[i:i + plen]).digest() for i in range(0, len(payload), plen))
    return lt.bencode({b'info': {b'name': b'set', b'piece length': plen, b'pieces': pieces, b'files': files}})


cases = {
    'v2-dotdot': v2_only([([b'..', b'x.txt'], b'a'), ([b'y.txt'], b'b')]),
    'v2-separators': v2_only([([b'a/b.txt'], b'a'), ([b'c\\d.txt'], b'b')]),
    'v2-dot': v2_only([([b'.', b'x.txt'], b'a'), ([b'z'], b'c')]),
    'v2-case': v2_only([([b'A.txt'], b'a'), ([b'a.txt'], b'b')]),
    'v2-controls': v2_only([([b'a\x01b.txt'], b'a'), ([b'e\xe2\x80\xaetxt.exe'], b'b')]),
    'v2-long': v2_only([([b'x' * 300 + b'.txt'], b'a'), ([b'z'], b'c')]),
    'v1-case': v1([([b'A.txt'], b'a'), ([b'a.txt'], b'b'), ([b'a.1.txt'], b'c'), ([b'A.1.TXT'], b'd')]),
    'v1-case-dirs': v1([([b'Dir', b'x'], b'a'), ([b'dir', b'x'], b'b'), ([b'dir', b'y'], b'c'), ([b'DIR'], b'd')]),
    'v1-bitcomet': v1([([b'a.bin'], b'x' * 5000), ([BITCOMET], b'\0' * 11384), ([b'sub', b'_____padding_file_1'], b'\0' * 16384), ([b'b.bin'], b'y')]),
}
result = {}
for name, data in cases.items():
    path = os.path.join(out_dir, name + '.torrent')
    with open(path, 'wb') as f:
        f.write(data)
    fs = lt.torrent_info(path).files()
    result[name] = [fs.file_path(i) for i in range(fs.num_files()) if not fs.file_flags(i) & lt.file_storage.flag_pad_file]
print(json.dumps(result))
