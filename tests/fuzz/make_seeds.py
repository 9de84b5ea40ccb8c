#!/usr/bin/env python3
"""Writes the seed corpora of ttrpc_frame_fuzz, agent_request_checks_fuzz and guest_wire_fuzz (valid inputs, so
that fuzzing starts deep) into tests/fuzz/corpus/. Protobuf is encoded by hand: Debian's
python3 has no protobuf module by default. Run it again after changing a seed; the files are
committed."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def varint(n):
    n &= (1 << 64) - 1
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def vfield(num, n):
    return varint(num << 3) + varint(n)


def bfield(num, data):
    if isinstance(data, str):
        data = data.encode()
    return varint(num << 3 | 2) + varint(len(data)) + data


def frame(stream, mtype, payload, length=None, flags=0):
    length = len(payload) if length is None else length
    return struct.pack(">IIBB", length, stream, mtype, flags) + payload


def request(service, method, payload=b"", timeout=0, metadata=()):
    # kata_sentry.ttrpc.wire.Request (runtime/shim/ttrpc/ttrpc.proto)
    out = bfield(1, service) + bfield(2, method) + bfield(3, payload)
    if timeout:
        out += vfield(4, timeout)
    for k, v in metadata:
        out += bfield(5, bfield(1, k) + bfield(2, v))
    return out


def write(corpus, name, data):
    d = os.path.join(HERE, "corpus", corpus)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


TASK = "containerd.task.v2.Task"
NS = [("containerd-namespace", "default")]
REQ, RESP, DATA = 1, 2, 3

# ttrpc_frame_fuzz: byte 0 shapes the reads (see the fuzzer), then the connection's bytes.
state = request(TASK, "State", bfield(1, "c1"), timeout=5_000_000_000, metadata=NS)
write("ttrpc_frame", "state", b"\x00" + frame(1, REQ, state))
write("ttrpc_frame", "create-kill-response-in-3-byte-pieces", b"\x03" +
      frame(1, REQ, request(TASK, "Create", bfield(1, "c1") + bfield(2, "/run/bundle"), metadata=NS)) +
      frame(3, REQ, request(TASK, "Kill", bfield(1, "c1") + vfield(3, 9))) +
      frame(5, RESP, bfield(2, b"\x08\x01")))
write("ttrpc_frame", "refused-frames-with-eintr", b"\x85" +
      frame(2, REQ, request(TASK, "State")) +
      frame(7, DATA, b"stream data") +
      frame(9, REQ, request("containerd.task.v2.Nope", "State")) +
      frame(11, REQ, request(TASK, "Nope")) +
      frame(13, REQ, b"\xff\xff not a request"))
write("ttrpc_frame", "oversized-then-eof", b"\x00" + frame(15, REQ, b"skipped", length=(4 << 20) + 1))
write("ttrpc_frame", "partial-header-then-eio", b"\x40" + frame(1, REQ, state)[:7])

# agent_request_checks_fuzz: one protobuf message, parsed as every request type.
write("agent_request_checks", "process", bfield(1, "c1") + bfield(2, "exec-1"))
write("agent_request_checks", "signal", bfield(1, "web_1") + vfield(3, 9))
write("agent_request_checks", "create-sandbox", bfield(1, "pod-1.example") +
      bfield(2, "/run/kata-sentry/shared") + bfield(3, bfield(1, "k") + bfield(2, "v")))
write("agent_request_checks", "create-container", bfield(1, "web1") + bfield(2, "{}") +
      bfield(3, "bundles/web1") + vfield(4, 1))
write("agent_request_checks", "exec", bfield(1, "c1") + bfield(2, "e.2") + bfield(4, "sh") +
      bfield(4, "-c") + bfield(5, "PATH=/bin") + bfield(6, "/"))
write("agent_request_checks", "write-stdin", bfield(1, "c1") + bfield(3, b"data\n"))
write("agent_request_checks", "climbing-bundle", bfield(1, "c1") + bfield(3, "a/../../etc"))

# guest_wire_fuzz: EventBatch (proto/agent.proto) as the agent sends it, process images
# (EventBatch.processes = 5) referred to by events (Event.proc_ref = 24).
ancestor = vfield(1, 1) + bfield(2, "sh") + bfield(3, "/bin/sh") + bfield(4, "sh -c cat a")
image = vfield(1, 7) + bfield(11, "/bin/cat") + bfield(12, "a") + bfield(13, "sh") + bfield(14, ancestor) + bfield(16, "/")
proc = vfield(1, 7) + vfield(2, 7) + bfield(10, "cat")
openat = vfield(1, 10) + vfield(2, 1) + bfield(13, proc) + bfield(14, "/dev/null") + vfield(24, 1)
file_open = vfield(1, 50) + vfield(2, 1) + bfield(13, proc) + bfield(14, "/dev/null") + vfield(24, 1)
write("wire", "batch-with-a-process-image", vfield(1, 1) + bfield(2, openat) + bfield(2, file_open) + bfield(5, image))
write("wire", "dangling-image-reference", vfield(1, 9) + bfield(2, vfield(1, 10) + vfield(24, 3)) + bfield(5, image))
