#!/usr/bin/python3
"""delayhub.py DELAY_MS SUBNET_PREFIX NS... - a slow network for kernels without sch_netem.

`tc qdisc add ... netem delay 20ms` needs CONFIG_NET_SCH_NETEM, which some kernels (this test
machine's among them) lack, with no module to load. This does the same in user space: one TAP
device per host (created inside each network namespace NS, plus one in this namespace for the
login node), all joined by this process, which copies every Ethernet frame it reads from one TAP
to all the others DELAY_MS later: a hub whose every hop takes DELAY_MS, like netem on each port of
a bridge. Addresses: PREFIX.1/24 here (device aeswtap0), PREFIX.1<i>/24 on host i (device aeswtap).

The TAP devices are not persistent: they go away with this process (SIGTERM or SIGKILL), so a
killed test leaves nothing behind. Prints "ready" on stdout once every device is up.
"""
import ctypes
import fcntl
import heapq
import os
import select
import struct
import subprocess
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TAP, IFF_NO_PI = 0x0002, 0x1000
CLONE_NEWNET = 0x40000000
libc = ctypes.CDLL(None, use_errno=True)


def setns(fd):
    if libc.setns(fd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "setns")


def open_tap(name):
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TAP | IFF_NO_PI))
    return fd


def main(delay_ms, prefix, namespaces):
    delay = delay_ms / 1000.0
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    taps = [open_tap("aeswtap0")]
    subprocess.run(["ip", "addr", "add", f"{prefix}.1/24", "dev", "aeswtap0"], check=True)
    subprocess.run(["ip", "link", "set", "aeswtap0", "up"], check=True)
    for i, ns in enumerate(namespaces, 1):
        nfd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
        setns(nfd)  # the TAP device is created in the namespace that opens it
        taps.append(open_tap("aeswtap"))
        setns(home)
        os.close(nfd)
        subprocess.run(["ip", "-n", ns, "addr", "add", f"{prefix}.1{i}/24", "dev", "aeswtap"], check=True)
        subprocess.run(["ip", "-n", ns, "link", "set", "aeswtap", "up"], check=True)
    print("ready", flush=True)
    queue, seq = [], 0  # (due time, sequence, source, frame)
    while True:
        timeout = max(0.0, queue[0][0] - time.monotonic()) if queue else None
        ready, _, _ = select.select(taps, [], [], timeout)
        now = time.monotonic()
        for fd in ready:
            while True:
                try:
                    frame = os.read(fd, 65536)
                except BlockingIOError:
                    break
                heapq.heappush(queue, (now + delay, seq, fd, frame))
                seq += 1
        now = time.monotonic()
        while queue and queue[0][0] <= now:
            _, _, src, frame = heapq.heappop(queue)
            for fd in taps:
                if fd != src:
                    try:
                        os.write(fd, frame)
                    except OSError:
                        pass  # a device that is down drops the frame, as a wire would


if __name__ == "__main__":
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    main(float(sys.argv[1]), sys.argv[2], sys.argv[3:])
