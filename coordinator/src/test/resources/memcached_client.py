#!/usr/bin/python3
"""memcached_client.py HOST PORT CLIENTS OPS: CLIENTS threads, each on its own connection, set and get back OPS
keys of their own through memcached's text protocol, checking every reply. Prints one line:
'ops=N errors=E first_error=...' and exits 0 only when every reply was right."""
import socket
import sys
import threading


def client(host, port, index, ops, results):
    done, errors, first = 0, 0, ''
    try:
        conn = socket.create_connection((host, port), timeout=20)
        reader = conn.makefile('rb')
        for i in range(ops):
            key = 'k%d_%d' % (index, i)
            value = ('v%d_%d_' % (index, i) * 8).encode()
            conn.sendall(b'set %s 0 0 %d\r\n%s\r\n' % (key.encode(), len(value), value))
            stored = reader.readline()
            conn.sendall(b'get %s\r\n' % key.encode())
            header = reader.readline()
            data = reader.readline().rstrip(b'\r\n')
            end = reader.readline()
            if stored != b'STORED\r\n' or not header.startswith(b'VALUE') or data != value or end != b'END\r\n':
                errors += 1
                first = first or 'bad reply for %s: %r %r %r' % (key, stored, header, end)
            done += 1
        conn.close()
    except Exception as error:  # every failure a client can see counts
        errors += 1
        first = first or repr(error)
    results[index] = (done, errors, first)


def main():
    host, port, clients, ops = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    results = [None] * clients
    threads = [threading.Thread(target=client, args=(host, port, i, ops, results)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done = sum(r[0] for r in results)
    errors = sum(r[1] for r in results)
    first = next((r[2] for r in results if r[2]), '')
    print('ops=%d errors=%d first_error=%s' % (done, errors, first))
    sys.exit(0 if errors == 0 and done == clients * ops else 1)


main()
