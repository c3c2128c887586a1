"""The two ends of test_pressure.sh, in Python: a server that sends FILE to one client in
64 KiB pieces with a read/send loop (rw: readinto a bytearray, then sendall) or from a
shared mapping (mmap: sendall of slices of mmap.mmap), or whole (one readinto of the file,
one sendall of it, on a socket whose SO_SNDBUF is set to 1 MiB, so that the write is
bigger than its queue whatever the system's defaults), and a client that is fast or slow.
The fast client asks for each piece once it has the one before (a byte back, which also
acknowledges it): the server's send queue is empty whenever the server writes, whatever
the scheduler does. The slow one has a 4 KiB receive buffer, reads nothing for a
second, then at most SLOW_RATE bytes a second: the server's queue stays full however slow
the server is (a sanitizer build), as long as it sends faster than that.

usage: pressure_peer.py serve rw|mmap|whole fast|slow FILE PORTFILE
       pressure_peer.py fetch fast|slow PORT OUT
"""
import mmap
import os
import socket
import sys
import time

CHUNK = 64 * 1024
SLOW_RATE = 2 << 20


def serve(mode, kind, path, portfile):
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    with open(portfile + ".tmp", "w") as f:
        f.write(str(ls.getsockname()[1]))
    os.rename(portfile + ".tmp", portfile)
    conn, _ = ls.accept()

    def piece(data):
        conn.sendall(data)
        if kind == "fast" and len(data) == CHUNK:
            conn.recv(1)  # the client has it all (it asks after each whole piece)

    with open(path, "rb", buffering=0) as f:
        if mode == "whole":
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
            buf = bytearray(os.fstat(f.fileno()).st_size)
            n = f.readinto(buf)
            conn.sendall(memoryview(buf)[:n])
        elif mode == "rw":
            buf = bytearray(CHUNK)
            while True:
                n = f.readinto(buf)
                if not n:
                    break
                piece(memoryview(buf)[:n])
        else:
            m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)  # MAP_SHARED
            view = memoryview(m)
            for off in range(0, len(m), CHUNK):
                piece(view[off:off + CHUNK])
            view.release()
            m.close()
    conn.close()


def fetch(kind, port, out):
    s = socket.socket()
    if kind == "slow":
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", int(port)))
    if kind == "slow":
        time.sleep(1.0)
    got = 0
    start = time.monotonic()
    with open(out, "wb") as f:
        while True:
            if kind == "slow":
                ahead = got / SLOW_RATE - (time.monotonic() - start)
                if ahead > 0:
                    time.sleep(ahead)
            b = s.recv(CHUNK - got % CHUNK)
            if not b:
                break
            f.write(b)
            got += len(b)
            if kind == "fast" and got % CHUNK == 0:
                s.send(b"n")



if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5])
    else:
        fetch(sys.argv[2], sys.argv[3], sys.argv[4])
