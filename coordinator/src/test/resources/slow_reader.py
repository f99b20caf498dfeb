# slow_reader.py PORT ADDRESS DELAY SERVE: a server that lets its input wait. For each connection it accepts, it
# sleeps DELAY seconds before reading anything, then reads until the client's end and answers "got N\n" with the
# bytes it read. It exits after SERVE connections that sent something. The kernel holds a connection's input
# meanwhile; what it tells the client of it is what the acknowledgement gate is tested on.
import socket, sys, time
port, address, delay, serve = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind((address, port))
server.listen(16)
served = 0
while served < serve:
    conn, _ = server.accept()
    time.sleep(delay)
    got = 0
    while True:
        data = conn.recv(65536)
        if not data:
            break
        got += len(data)
    if got:
        conn.sendall(b'got %d\n' % got)
        served += 1
    conn.close()
