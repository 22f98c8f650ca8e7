"""tests/scripts/tcp_pingpong.py serve PORT | ping HOST PORT N: a TCP ping-pong of 8-byte
messages; ping prints the smallest round trip in microseconds. Measures an emulated
link with no MPI in the way."""
import socket
import sys
import time


def serve(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(1)
    s.settimeout(60)
    c, _ = s.accept()
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    while True:
        d = c.recv(8)
        if not d:
            return
        c.sendall(d)


def ping(host, port, n):
    deadline = time.time() + 20
    while True:
        try:
            c = socket.create_connection((host, port), timeout=10)
            break
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.05)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    best = float("inf")
    for _ in range(n):
        t0 = time.perf_counter()
        c.sendall(b"12345678")
        got = 0
        while got < 8:
            got += len(c.recv(8 - got))
        best = min(best, time.perf_counter() - t0)
    c.close()
    print(f"{best * 1e6:.1f}")


if sys.argv[1] == "serve":
    serve(int(sys.argv[2]))
else:
    ping(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
