# Usage: /usr/bin/python3 rusage.py -- CMD ARGS...  -> runs CMD; on fd 3: {"pid":N} at start, {"status":..,"wall":..,"user":..,"sys":..,"maxrssKiB":..} at exit.
"""Exact CPU time and peak RSS of one command (and the children it waited for), via os.wait4.

tork bench measures every downloader through this wrapper. The child inherits stdin, stdout
and stderr but not fd 3. SIGTERM/SIGINT received by the wrapper are passed on to the child.
The wrapper exits with the child's status (128+signal when killed by a signal).
"""
import json
import os
import signal
import sys
import time

argv = sys.argv[1:]
if argv and argv[0] == '--':
    argv = argv[1:]
if not argv:
    sys.stderr.write('usage: rusage.py -- CMD ARGS...\n')
    sys.exit(64)
try:
    report = os.fdopen(3, 'w')
except OSError:
    report = sys.stderr

started = time.monotonic()
pid = os.fork()
if pid == 0:
    try:
        os.closerange(3, 4)
        os.execvp(argv[0], argv)
    except OSError as error:
        sys.stderr.write(f'rusage.py: {argv[0]}: {error}\n')
        os._exit(127)

for sig in (signal.SIGTERM, signal.SIGINT):
    signal.signal(sig, lambda number, _frame: os.kill(pid, number))
report.write(json.dumps({'pid': pid}) + '\n')
report.flush()
while True:
    try:
        _, status, usage = os.wait4(pid, 0)
        break
    except InterruptedError:
        continue
wall = time.monotonic() - started
code = os.waitstatus_to_exitcode(status)
report.write(json.dumps({
    'status': code,
    'wall': round(wall, 4),
    'user': usage.ru_utime,
    'sys': usage.ru_stime,
    'maxrssKiB': usage.ru_maxrss,
}) + '\n')
report.flush()
sys.exit(code if code >= 0 else 128 - code)
