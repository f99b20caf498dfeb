# echo_server.py PORT WAIT SERVE [ADDRESS [LATE]]: a line-echo server. WAIT is a class of selectors (EpollSelector,
# PollSelector, SelectSelector) or 'select' for select.select itself with a 50 ms timeout. It exits after SERVE
# connections that sent something have closed (0: never) and prints served=N and timeouts=T, T being the waits
# that ended with nothing ready. ADDRESS defaults to 127.0.0.1. With LATE it listens, then sleeps LATE seconds
# before it waits for anything: connections meanwhile are opened by the kernel and not accepted.
import select, selectors, socket, sys, time
port, wait_with, serve = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
address = sys.argv[4] if len(sys.argv) > 4 else '127.0.0.1'
late = float(sys.argv[5]) if len(sys.argv) > 5 else 0
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind((address, port))
server.listen(128)
server.setblocking(False)
time.sleep(late)
if wait_with == 'select':
    watched = [server]
    wait = lambda: select.select(watched, [], [], 0.05)[0]
    watch, forget = watched.append, watched.remove
else:
    selector = getattr(selectors, wait_with)()
    wait = lambda: [key.fileobj for key, _ in selector.select()]
    watch = lambda sock: selector.register(sock, selectors.EVENT_READ)
    forget = selector.unregister
    watch(server)
talked = set()
served = timeouts = 0
while serve == 0 or served < serve:
    ready = wait()
    timeouts += not ready
    for sock in ready:
        if sock is server:
            conn, _ = server.accept()
            conn.setblocking(False)
            watch(conn)
            continue
        data = sock.recv(65536)
        if data:
            talked.add(sock)
            sock.setblocking(True)
            sock.sendall(data)
            sock.setblocking(False)
        else:
            served += sock in talked
            forget(sock)
            sock.close()
print('served=%d\ntimeouts=%d' % (served, timeouts))
