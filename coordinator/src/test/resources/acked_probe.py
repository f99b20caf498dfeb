# acked_probe.py HOST PORT BYTES WATCH: a client that sends BYTES bytes, shuts its side down, and watches for WATCH
# seconds how many of them the server's kernel acknowledges (TCP_INFO's tcpi_bytes_acked, which counts the SYN too)
# while the server has not read them; then it waits for the server's answer and looks again. Prints
# acked_early=E acked_after=A answer=...; exits 1 if no answer came.
import socket, struct, sys, time
host, port, count, watch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
TCPI_BYTES_ACKED = 120
def acked(conn):
    info = conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 232)
    return struct.unpack_from('Q', info, TCPI_BYTES_ACKED)[0]
conn = socket.create_connection((host, port), timeout=60)
conn.sendall(b'x' * count)
conn.shutdown(socket.SHUT_WR)
early, end = 0, time.time() + watch
while time.time() < end:
    early = max(early, acked(conn))
    time.sleep(0.02)
answer = b''
while not answer.endswith(b'\n'):
    piece = conn.recv(100)
    if not piece:
        break
    answer += piece
time.sleep(0.2)
print('acked_early=%d acked_after=%d answer=%s' % (early, acked(conn), answer.decode().strip()))
sys.exit(0 if answer else 1)
