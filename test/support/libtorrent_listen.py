"""Where a libtorrent session of a test script really listens, from its listen alerts.

Why not trust the port asked for: libtorrent binds TCP first and, when the UDP port of the same
number is taken (another test's UDP sockets take ephemeral ports too), silently listens for uTP on
the next port up. A test that dials the TCP port's number over uTP then talks to a stranger (CI19:
every SYN unanswered for 120 s). So the scripts listen on a kernel-chosen port (port 0, no race
with a port picked and released earlier), read the ports libtorrent reports, and exit with
LISTEN_SPLIT when TCP and uTP ended up apart; the test starts the script again.

The session needs status and error alerts (LISTEN_ALERTS in its alert_mask).
"""
import sys
import time

import libtorrent as lt

LISTEN_ALERTS = lt.alert.category_t.status_notification | lt.alert.category_t.error_notification
# Exit code for "listening failed or TCP and uTP on different ports": the caller retries.
LISTEN_SPLIT = 4


def listening_port(session, one_port=True, timeout_seconds=10.0):
    """The one port libtorrent listens on for both TCP and uTP; exits LISTEN_SPLIT otherwise.

    one_port=False (a peer that only dials out): the TCP port, wherever uTP went.
    """
    ports = {}
    deadline = time.time() + timeout_seconds
    while time.time() < deadline and len(ports) < 2:
        session.wait_for_alert(100)
        for alert in session.pop_alerts():
            if isinstance(alert, lt.listen_failed_alert):
                print(f'listen failed: {alert.message()}', file=sys.stderr, flush=True)
                sys.exit(LISTEN_SPLIT)
            if isinstance(alert, lt.listen_succeeded_alert):
                ports[str(alert.socket_type)] = alert.port
    if not one_port and 'tcp' in ports:
        return ports['tcp']
    if set(ports) != {'tcp', 'udp'} or ports['tcp'] != ports['udp']:
        print(f'listening on {ports}, not one port for TCP and uTP', file=sys.stderr, flush=True)
        sys.exit(LISTEN_SPLIT)
    return ports['tcp']
