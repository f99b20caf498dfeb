# ready_then_read.py PORT ADDRESS DELAY: a line-echo server that trusts readiness. It waits with epoll until a
# connection has input, sleeps DELAY seconds, then reads it with a non-blocking recv, which must not come back empty
# handed (BlockingIOError ends the server): the kernel said the bytes were there. It echoes what it read, and exits
# after one connection has closed. A fault during the sleep finds the application told of input it has not read.
import selectors, socket, sys, time
port, address, delay = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind((address, port))
server.listen(16)
server.setblocking(False)
selector = selectors.EpollSelector()
selector.register(server, selectors.EVENT_READ)
talked = False
while True:
    for key, _ in selector.select():
        sock = key.fileobj
        if sock is server:
            conn, _ = server.accept()
            conn.setblocking(False)
            selector.register(conn, selectors.EVENT_READ)
            continue
        time.sleep(delay)
        data = sock.recv(65536)
        if data:
            talked = True
            sock.setblocking(True)
            sock.sendall(data)
            sock.setblocking(False)
            continue
        selector.unregister(sock)
        sock.close()
        if talked:
            sys.exit(0)
