# echo_clients.py HOST PORT CLIENTS SECONDS [PATIENCE]: clients that each hold one connection and talk for a while:
# a numbered line, then its echo, read back whole and compared, a few milliseconds apart, so that a fault finds
# every connection in use. A client gives up on a connection that is silent for PATIENCE seconds (default 30).
# Prints clients=N errors=E lines=L longest_round_trip_ms=G (G: the pause a fault caused), then one line per error
# (naming the client's port if it connected); exits 1 on any error or a client that got no line through.
import socket, sys, threading, time
host, port, count, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
patience = float(sys.argv[5]) if len(sys.argv) > 5 else 30
errors, lines, gaps = [], [0] * count, [0.0] * count
def talk(index):
    conn = None
    try:
        conn = socket.create_connection((host, port), timeout=patience)
        end = time.time() + seconds
        while time.time() < end:
            line = ('client %d line %d %s\n' % (index, lines[index], 'x' * (index * 37 % 200))).encode()
            sent_at = time.time()
            conn.sendall(line)
            got = b''
            while len(got) < len(line):
                piece = conn.recv(len(line) - len(got))
                if not piece:
                    raise EOFError('connection closed after %d lines' % lines[index])
                got += piece
            if got != line:
                raise ValueError('line %d came back as %r' % (lines[index], got[:80]))
            lines[index] += 1
            gaps[index] = max(gaps[index], time.time() - sent_at)
            time.sleep(0.005)
        conn.close()
    except Exception as ex:
        errors.append('client %d%s: %s' % (index, ' (port %d)' % conn.getsockname()[1] if conn else '', ex))
threads = [threading.Thread(target=talk, args=(i,)) for i in range(count)]
for t in threads: t.start()
for t in threads: t.join()
print('clients=%d errors=%d lines=%d longest_round_trip_ms=%.1f' % (count, len(errors), sum(lines),
    1000 * max(gaps)))
for e in errors: print(e)
sys.exit(1 if errors or min(lines) == 0 else 0)
