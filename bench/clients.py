# Benchmark clients driven by bench/run.mjs: datagram sender, echo connection loop, round-trip loop.
"""Usage (each prints one JSON line on stdout when done):

  clients.py dgram-send PATH COUNT SIZE    prints "ready", waits for a line on stdin, sends COUNT datagrams
  clients.py dgram-recv PATH COUNT SIZE    binds PATH, receives COUNT datagrams and exits (sender ceiling)
  clients.py conns PATH COUNT SECONDS      sequential connect / send 16 bytes / read 16 back / close
  clients.py rtt PATH COUNT SECONDS        one connection, COUNT sequential 16-byte ping-pongs
"""
import json
import socket
import statistics
import sys
import time

PING = b"0123456789abcdef"


def recv_exactly(sock, size):
    """Returns exactly size bytes from sock; raises EOFError if the peer closes first."""
    chunks = []
    left = size
    while left:
        chunk = sock.recv(left)
        if not chunk:
            raise EOFError("peer closed after %d of %d bytes" % (size - left, size))
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def dgram_send(path, count, size):
    payload = b"x" * size
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.connect(path)  # connected send: same datagrams as sendto, less per-call address parsing
    send = sock.send
    print("ready", flush=True)
    sys.stdin.readline()
    start = time.perf_counter()
    for _ in range(count):
        send(payload)
    elapsed = time.perf_counter() - start
    sock.close()
    print(json.dumps({"sent": count, "seconds": elapsed}), flush=True)


def dgram_recv(path, count, size):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    buf = bytearray(max(size, 1) * 2)
    recv_into = sock.recv_into
    received = 0
    total = 0
    while received < count:
        total += recv_into(buf)
        received += 1
    sock.close()
    print(json.dumps({"received": received, "bytes": total}), flush=True)


def conns(path, count, seconds):
    deadline = time.perf_counter() + seconds
    start = time.perf_counter()
    done = 0
    error = None
    while done < count and time.perf_counter() < deadline:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(path)
            sock.sendall(PING)
            if recv_exactly(sock, len(PING)) != PING:
                error = "echo mismatch"
                break
        except (OSError, EOFError) as exc:
            error = "%s: %s" % (type(exc).__name__, exc)
            break
        finally:
            sock.close()
        done += 1
    elapsed = time.perf_counter() - start
    print(json.dumps({"connections": done, "seconds": elapsed, "error": error}), flush=True)


def rtt(path, count, seconds):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    error = None
    samples = []
    try:
        sock.connect(path)
        for _ in range(min(200, count)):  # warm-up, not measured
            sock.sendall(PING)
            recv_exactly(sock, len(PING))
        clock = time.perf_counter_ns
        deadline = clock() + int(seconds * 1e9)
        send = sock.sendall
        while len(samples) < count:
            t0 = clock()
            if t0 > deadline:
                break
            send(PING)
            if recv_exactly(sock, len(PING)) != PING:
                error = "echo mismatch"
                break
            samples.append(clock() - t0)
    except (OSError, EOFError) as exc:
        error = "%s: %s" % (type(exc).__name__, exc)
    finally:
        sock.close()
    result = {"roundtrips": len(samples), "error": error}
    if samples:
        samples.sort()
        result["median_us"] = statistics.median(samples) / 1000
        result["mean_us"] = statistics.fmean(samples) / 1000
        result["p99_us"] = samples[min(len(samples) - 1, int(len(samples) * 0.99))] / 1000
    print(json.dumps(result), flush=True)


def main(argv):
    if len(argv) != 5:
        sys.exit(__doc__)
    mode, path, count, extra = argv[1], argv[2], int(argv[3]), argv[4]
    if mode == "dgram-send":
        dgram_send(path, count, int(extra))
    elif mode == "dgram-recv":
        dgram_recv(path, count, int(extra))
    elif mode == "conns":
        conns(path, count, float(extra))
    elif mode == "rtt":
        rtt(path, count, float(extra))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
