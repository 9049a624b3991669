"""The WASI host: real C programs built from source (examples/wasi/), capability safety,
the command line, and the event loop under the scheduler.

The C guests are built once per session by examples/build_wasi_guests.py
(zig's C compiler from PyPI, WASI 0.1's command adapter fetched with
``npm pack`` into the user's cache once). Where a result is compared with
wasmtime, wasmtime-py (a dependency) runs the same component in a child process.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import EXAMPLES, load_script

from stackswitch import Component, Linker, Trap, Variant
from stackswitch.event_loop import EventLoop, loop_of
from stackswitch.scheduler import Scheduler
from stackswitch.wasi import WasiConfig, WasiConfigError, WasiExit, WasiHost
from stackswitch.wasi.filesystem import Descriptor, FsError, resolve_beneath

ROOT = EXAMPLES.parent
STRATEGIES = ("stackful", "callback")


@pytest.fixture(scope="session")
def wasi_guests(tmp_path_factory, build_cache):
    """Every examples/wasi/*.c built by the committed script, by name."""
    try:
        import ziglang  # noqa: F401
    except ImportError:
        pytest.fail("the WASI guests need zig's C compiler from PyPI: pip install -e '.[dev]'")
    out = tmp_path_factory.mktemp("wasi-guests")
    script = load_script(EXAMPLES / "build_wasi_guests.py")
    built = script.build_all(out, cache=build_cache, verbose=False)
    return {p.name.removesuffix(".component.wasm"): p for p in built}


@pytest.fixture
def sandbox(tmp_path):
    """A preopen ``root`` holding inside.txt, and beside it ``outside`` holding secret.txt,
    with links inside root pointing out of it, within it, absolutely, and in a loop."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "sub").mkdir(parents=True)
    outside.mkdir()
    (root / "inside.txt").write_text("inside\n")
    (outside / "secret.txt").write_text("secret\n")
    os.symlink("../outside", root / "out-link")
    os.symlink(str(outside / "secret.txt"), root / "abs-link")
    os.symlink("sub/../inside.txt", root / "ok-link")
    os.symlink("loop2", root / "loop1")
    os.symlink("loop1", root / "loop2")
    return root


def run_wasi(path: Path, strategy: str, **options) -> tuple[int, bytes, bytes]:
    """Run a WASI command through the embedding API: (exit status, stdout, stderr)."""
    out, err = io.BytesIO(), io.BytesIO()
    linker = Linker(strategy=strategy)
    linker.add_wasi(stdout=out, stderr=err, **options)
    instance = linker.instantiate(Component.from_file(path))
    run = instance["wasi:cli/run@0.2.12"].exports["run"]
    try:
        status = 0 if run().__class__.__name__ == "Ok" else 1
    except WasiExit as e:
        status = e.code
    return status, out.getvalue(), err.getvalue()


def _hash(data: bytes) -> int:
    h = 0
    for b in data:
        h = (h * 31 + b) & 0xFFFF_FFFF
    return h


# -- the C program: prints, args, env, stdin, a file in a preopen, sleep, exit code ----------

@pytest.mark.parametrize("strategy", STRATEGIES)
def test_c_program_does_everything_a_command_does(wasi_guests, tmp_path, strategy):
    data = tmp_path / "data"
    data.mkdir()
    stdin = b"some input\nmore\n"
    start = time.perf_counter()
    status, out, err = run_wasi(wasi_guests["hello"], strategy,
                                args=["hello", "a b", "0"], env={"GREETING": "hi"},
                                dirs=[f"{data}::/data"], stdin=stdin)
    assert time.perf_counter() - start >= 0.05
    assert status == 0
    assert out.decode().splitlines() == [
        "hello from C, argc=3", "arg 1: a b", "arg 2: 0", "GREETING=hi",
        f"stdin: {len(stdin)} bytes, hash {_hash(stdin)}",
        "file: written by the guest", "slept at least 50 ms: yes"]
    assert err == b"exiting with 0\n"
    assert (data / "hello.txt").read_text() == "written by the guest\n"


def test_both_strategies_give_the_same_output_and_exit_code(wasi_guests):
    runs = {s: run_wasi(wasi_guests["hello"], s, args=["hello", "x", "3"], stdin=b"")
            for s in STRATEGIES}
    assert runs["stackful"] == runs["callback"]
    status, out, _ = runs["stackful"]
    assert status == 1  # WASI 0.1's adapter passes any non-zero code on as exit(err)
    assert b"no /data: No such file or directory" in out
    assert b"GREETING=(unset)" in out


# -- capability safety ----------------------------------------------------------------------------

ESCAPES = {
    "/data/inside.txt": "read: inside",
    "/data/ok-link": "read: inside",
    "/data/../outside/secret.txt": "error: Operation not permitted",
    "/data/sub/../../outside/secret.txt": "error: Operation not permitted",
    "/data/out-link/secret.txt": "error: Operation not permitted",
    "/data/abs-link": "error: Operation not permitted",
    "/data/loop1": "error: Symbolic link loop",
    "/data/missing": "error: No such file or directory",
}


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_guest_cannot_leave_its_preopen(wasi_guests, sandbox, strategy):
    """Each escape reaches the host (wasi-libc passes the path on relative to /data) and
    fails with not-permitted, which wasi-libc reports as EPERM; the same as wasmtime."""
    status, out, _ = run_wasi(wasi_guests["escape"], strategy, args=["escape", *ESCAPES],
                              dirs=[f"{sandbox}::/data"])
    assert status == 0
    assert out.decode().splitlines() == [f"{p}: {r}" for p, r in ESCAPES.items()]


@pytest.mark.parametrize(("path", "code"), [
    ("/etc/passwd", "not-permitted"),
    ("..", "not-permitted"),
    ("../outside/secret.txt", "not-permitted"),
    ("sub/../../outside/secret.txt", "not-permitted"),
    ("sub/../../root/inside.txt", "not-permitted"),  # steps out, even if it comes back
    ("out-link/secret.txt", "not-permitted"),
    ("abs-link", "not-permitted"),
    ("loop1", "loop"),
    ("", "no-entry"),
])
def test_escapes_fail_with_wasi_error_codes(sandbox, path, code):
    with pytest.raises(FsError) as e:
        resolve_beneath(str(sandbox), path, follow_final=True)
    assert e.value.code == code


def test_open_at_returns_the_error_code(sandbox):
    root = Descriptor.preopen(str(sandbox))
    follow = frozenset({"symlink-follow"})
    for path in ("../outside/secret.txt", "/etc/passwd", "out-link/secret.txt"):
        result = root.open_at(follow, path, frozenset(), frozenset({"read"}))
        assert result.__class__.__name__ == "Err" and result.value == "not-permitted", path
    ok = root.open_at(follow, "ok-link", frozenset(), frozenset({"read"}))
    assert ok.value.read(100, 0).value == (b"inside\n", True)
    # Without symlink-follow the final link is not followed: opening it fails (ELOOP).
    assert root.open_at(frozenset(), "abs-link", frozenset(), frozenset({"read"})).value == "loop"
    # A directory opened read-only cannot be used to create or remove.
    sub = root.open_at(follow, "sub", frozenset({"directory"}), frozenset({"read"})).value
    assert "mutate-directory" not in sub.flags
    assert sub.create_directory_at("x").value == "read-only"
    assert root.create_directory_at("made").__class__.__name__ == "Ok"
    assert root.symlink_at("/etc/passwd", "new-abs-link").value == "not-permitted"
    assert (sandbox / "made").is_dir()


def test_what_is_not_implemented_links_and_traps_naming_itself():
    host = WasiHost(WasiConfig(), Linker().store)
    tcp = host.provide("wasi:sockets/tcp@0.3.0")  # 0.3's sockets are not implemented
    with pytest.raises(Trap, match=r"wasi:sockets/tcp@0\.3\.0#\[method\]tcp-socket\.connect "
                                   "is not implemented"):
        tcp["[method]tcp-socket.connect"](None, None)
    assert host.provide("ns:pkg/other") is None


def _sockets(allow: bool):
    host = WasiHost(WasiConfig(allow_network=allow), Linker().store)
    p2 = host.preview2
    api = {}
    for name in ("network", "instance-network", "tcp", "tcp-create-socket", "udp",
                 "udp-create-socket", "ip-name-lookup"):
        api.update(p2.interface(f"wasi:sockets/{name}"))
    return api, p2.loop


def _v4(port, address=(127, 0, 0, 1)):
    return Variant("ipv4", {"port": port, "address": address})


def test_no_socket_reaches_the_network_unless_allowed():
    api, _ = _sockets(allow=False)
    network = api["instance-network"]()
    sock = _ok(api["create-tcp-socket"]("ipv4"))
    assert api["[method]tcp-socket.start-bind"](sock, network, _v4(0)).value == "access-denied"
    assert api["[method]tcp-socket.start-connect"](sock, network, _v4(80)).value \
        == "access-denied"
    udp = _ok(api["create-udp-socket"]("ipv4"))
    assert api["[method]udp-socket.start-bind"](udp, network, _v4(0)).value == "access-denied"
    assert api["resolve-addresses"](network, "localhost").value == "access-denied"


def test_tcp_and_udp_on_loopback_when_allowed():
    from stackswitch.wasi.io_streams import poll

    api, loop = _sockets(allow=True)
    m = {k.removeprefix("[method]"): v for k, v in api.items()}
    network = api["instance-network"]()
    server = _ok(api["create-tcp-socket"]("ipv4"))
    _ok(m["tcp-socket.start-bind"](server, network, _v4(0)))
    _ok(m["tcp-socket.finish-bind"](server))
    _ok(m["tcp-socket.start-listen"](server))
    _ok(m["tcp-socket.finish-listen"](server))
    assert m["tcp-socket.is-listening"](server)
    port = _ok(m["tcp-socket.local-address"](server)).value["port"]
    client = _ok(api["create-tcp-socket"]("ipv4"))
    _ok(m["tcp-socket.start-connect"](client, network, _v4(port)))
    poll(loop, [m["tcp-socket.subscribe"](client)])
    c_in, c_out = _ok(m["tcp-socket.finish-connect"](client))
    poll(loop, [m["tcp-socket.subscribe"](server)])
    accepted, s_in, s_out = _ok(m["tcp-socket.accept"](server))
    assert m["tcp-socket.accept"](server).value == "would-block"
    assert _ok(m["tcp-socket.remote-address"](client)).value["port"] == port
    _ok(c_out.blocking_write_and_flush(b"ping"))
    assert _ok(s_in.blocking_read(100)) == b"ping"
    _ok(s_out.write(b"pong"))
    assert _ok(c_in.blocking_read(100)) == b"pong"
    _ok(m["tcp-socket.shutdown"](accepted, "send"))
    assert c_in.blocking_read(100).value.case == "closed"
    _ok(m["tcp-socket.set-keep-alive-enabled"](client, True))
    assert _ok(m["tcp-socket.keep-alive-enabled"](client)) is True
    refused = _ok(api["create-tcp-socket"]("ipv4"))
    _ok(m["tcp-socket.start-connect"](refused, network, _v4(port + 1 if port < 65535 else 1)))
    poll(loop, [m["tcp-socket.subscribe"](refused)])
    assert m["tcp-socket.finish-connect"](refused).value == "connection-refused"

    a, b = (_ok(api["create-udp-socket"]("ipv4")) for _ in range(2))
    for sock in (a, b):
        _ok(m["udp-socket.start-bind"](sock, network, _v4(0)))
        _ok(m["udp-socket.finish-bind"](sock))
    b_port = _ok(m["udp-socket.local-address"](b)).value["port"]
    _, a_out = _ok(m["udp-socket.stream"](a, None))
    b_in, _ = _ok(m["udp-socket.stream"](b, None))
    assert _ok(m["outgoing-datagram-stream.send"](
        a_out, [{"data": b"hi", "remote-address": _v4(b_port)}])) == 1
    poll(loop, [m["incoming-datagram-stream.subscribe"](b_in)])
    [datagram] = _ok(m["incoming-datagram-stream.receive"](b_in, 10))
    assert datagram["data"] == b"hi"

    found = _ok(api["resolve-addresses"](network, "localhost"))
    addresses = []
    while (address := _ok(m["resolve-address-stream.resolve-next-address"](found))) is not None:
        addresses.append(address)
    assert Variant("ipv4", (127, 0, 0, 1)) in addresses
    for sock in (server, client, accepted, refused):
        sock.close()


def test_bad_options_are_refused(tmp_path):
    with pytest.raises(WasiConfigError, match="not a directory"):
        WasiConfig.build(dirs=[str(tmp_path / "missing")])
    with pytest.raises(WasiConfigError, match="HOST::GUEST"):
        WasiConfig.build(dirs=[f"{tmp_path}::"])
    with pytest.raises(WasiConfigError, match="NAME=VALUE"):
        WasiConfig.build(env=["=x"])
    assert WasiConfig.build(env=["A=1", "B="]).env == {"A": "1", "B": ""}


# -- the command line, against wasmtime ---------------------------------------------------------

WASMTIME_RUN = textwrap.dedent("""
    import sys, wasmtime, wasmtime.component as wc
    engine = wasmtime.Engine(); store = wasmtime.Store(engine)
    cfg = wasmtime.WasiConfig(); cfg.argv = sys.argv[3:]
    cfg.preopen_dir(sys.argv[2], "/data"); cfg.env = [("GREETING", "hey")]
    cfg.inherit_stdin(); cfg.inherit_stdout(); cfg.inherit_stderr()
    store.set_wasi(cfg)
    linker = wc.Linker(engine); linker.add_wasip2()
    inst = linker.instantiate(store, wc.Component.from_file(engine, sys.argv[1]))
    run = inst.get_func(store, inst.get_export_index(
        store, "run", inst.get_export_index(store, "wasi:cli/run@0.2.12")))
    try:
        sys.exit(0 if run(store).tag == "ok" else 1)
    except wasmtime.ExitTrap as e:
        sys.exit(e.code)
""")


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_run_prints_what_wasmtime_prints(wasi_guests, tmp_path, strategy):
    component = str(wasi_guests["hello"])
    ours_dir, theirs_dir = tmp_path / "ours", tmp_path / "theirs"
    ours_dir.mkdir()
    theirs_dir.mkdir()
    ours = subprocess.run([sys.executable, "-m", "stackswitch", "run", component,
                           "--dir", f"{ours_dir}::/data", "--env", "GREETING=hey",
                           "--strategy", strategy, "a", "--", "-b", "5"],
                          input=b"stdin bytes", capture_output=True, cwd=ROOT, check=False)
    theirs = subprocess.run([sys.executable, "-c", WASMTIME_RUN, component, str(theirs_dir),
                             component, "a", "-b", "5"],
                            input=b"stdin bytes", capture_output=True, check=False)
    assert theirs.returncode == 1, theirs.stderr
    assert (ours.returncode, ours.stdout) == (theirs.returncode, theirs.stdout)
    assert ours.stderr == b"exiting with 5\n"
    assert (ours_dir / "hello.txt").read_bytes() == (theirs_dir / "hello.txt").read_bytes()


def test_invoke_reaches_a_function_of_an_exported_interface(wasi_guests):
    proc = subprocess.run([sys.executable, "-m", "stackswitch", "run", str(wasi_guests["hello"]),
                           "--invoke", "wasi:cli/run@0.2.12#run()"], capture_output=True,
                          text=True, cwd=ROOT, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("hello from C, argc=1\n")
    assert proc.stdout.endswith("slept at least 50 ms: yes\nok\n")
    bad = subprocess.run([sys.executable, "-m", "stackswitch", "run", str(wasi_guests["hello"]),
                          "--invoke", "nope#run()"], capture_output=True, text=True, cwd=ROOT,
                         check=False)
    assert bad.returncode == 2 and "exports no interface 'nope'" in bad.stderr


def test_run_refuses_a_bad_dir(wasi_guests, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "stackswitch", "run", str(wasi_guests["hello"]),
                           "--dir", str(tmp_path / "nope")], capture_output=True, text=True,
                          cwd=ROOT, check=False)
    assert proc.returncode == 2
    assert "not a directory" in proc.stderr


# -- the event loop --------------------------------------------------------------------------------

def test_the_loop_runs_timers_in_deadline_order_and_blocks_until_the_first():
    loop = EventLoop()
    fired = []
    now = time.monotonic_ns()
    loop.call_at(now + 30_000_000, lambda: fired.append("b"))
    loop.call_at(now + 10_000_000, lambda: fired.append("a"))
    loop.call_at(now + 20_000_000, lambda: fired.append("x")).cancel()
    start = time.perf_counter()
    while loop.run_once():
        pass
    assert fired == ["a", "b"]
    assert time.perf_counter() - start >= 0.03
    assert not loop.pending()


def test_the_loop_wakes_on_a_readable_pipe():
    loop = EventLoop()
    r, w = os.pipe()
    try:
        seen = []
        loop.add_reader(r, lambda: seen.append(os.read(r, 10)))
        loop.call_later(5_000_000, lambda: os.write(w, b"hi"))
        while not seen:
            assert loop.run_once()
        assert seen == [b"hi"]
        assert not loop.pending()
    finally:
        os.close(r)
        os.close(w)


def test_a_scheduler_with_nothing_ready_waits_in_its_idle_hook():
    scheduler = Scheduler()
    loop = loop_of(scheduler)
    assert scheduler.idle == loop.run_once and loop_of(scheduler) is loop
    done = []
    loop.call_later(10_000_000, lambda: done.append(True))
    scheduler.run_until(lambda: bool(done))  # no thread at all, yet no deadlock: a timer is due
    assert done


def test_sleeping_host_calls_overlap_and_cost_no_cpu_while_waiting(c_guests):
    """100 concurrent calls of a stackful C export, each waiting on a host import that
    sleeps 300 ms: together they take about 300 ms, and the process sleeps meanwhile."""
    from stackswitch.canon.store import all_resolved
    from stackswitch.embed.host import sleep

    linker = Linker()
    linker.define("slow-double", lambda x: (sleep(0.3), 2 * x)[1])
    run = linker.instantiate(Component.from_file(c_guests["blocking"]))["run"]
    store = linker.store
    cpu, wall = time.process_time(), time.perf_counter()
    calls = [store.invoke(run.func_inst, [i]) for i in range(100)]
    store.run_until(all_resolved(calls))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    assert [c.value for c in calls] == [[2 * i] for i in range(100)]
    assert 0.3 <= wall < 5  # one after another: 30 s
    assert cpu < wall - 0.2  # not spinning: the wait itself used no CPU


# -- WASI 0.3: async sleeps and stdout as a stream<u8> ------------------------------------------

@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_wasi_0_3_command_sleeps_and_streams_its_stdout(wasi_guests, strategy):
    out = io.BytesIO()
    linker = Linker(strategy=strategy)
    linker.add_wasi(args=["sleep3", "120", "x"], stdout=out)
    run = linker.instantiate(Component.from_file(wasi_guests["sleep3"]))[
        "wasi:cli/run@0.3.0"].exports["run"]
    start = time.perf_counter()
    assert run().__class__.__name__ == "Ok"
    assert time.perf_counter() - start >= 0.12
    assert out.getvalue() == b"slept; arguments: sleep3 120 x\n"


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_wasi_0_3_sleeps_of_many_guests_overlap(wasi_guests, strategy):
    """Twenty instances each sleep 300 ms in wait-for, all at once: the store waits in the
    event loop once for all of them, so together they take about 300 ms."""
    from stackswitch.canon.store import all_resolved

    out = io.BytesIO()
    linker = Linker(strategy=strategy)
    linker.add_wasi(args=["sleep3", "300"], stdout=out)
    component = Component.from_file(wasi_guests["sleep3"])
    runs = [linker.instantiate(component)["wasi:cli/run@0.3.0"].exports["run"]
            for _ in range(20)]
    store = linker.store
    start = time.perf_counter()
    calls = [store.invoke(r.func_inst, []) for r in runs]
    store.run_until(all_resolved(calls))
    assert 0.3 <= time.perf_counter() - start < 3.0  # one after another: 6 s
    assert [c.value[0].case for c in calls] == ["ok"] * 20
    # The twenty writers share stdout, so their pieces may interleave in any order.
    assert sorted(out.getvalue()) == sorted(b"slept; arguments: sleep3 300\n" * 20)


def test_run_calls_a_wasi_0_3_command(wasi_guests):
    proc = subprocess.run([sys.executable, "-m", "stackswitch", "run",
                           str(wasi_guests["sleep3"]), "10", "y"],
                          capture_output=True, cwd=ROOT, check=False)
    assert (proc.returncode, proc.stdout) == (0, f"slept; arguments: {wasi_guests['sleep3']} 10 y\n"
                                              .encode())


def test_wasi_0_3_stdin_is_read_only_as_fast_as_the_guest_reads(tmp_path):
    """read-via-stream's stream serves bytes only on a read (no read-ahead), waits in the
    event loop for a pipe with nothing in it, and resolves its future at the end."""
    from stackswitch.canon.buffers import HostWritableBuffer
    from stackswitch.wasi.preview3 import Preview3

    r, w = os.pipe()
    try:
        store = Linker().store
        loop = loop_of(store.scheduler)
        p3 = Preview3(WasiConfig(stdin=os.fdopen(r, "rb", closefd=False)), loop, store)
        stream, done = p3.cli_stdin()["read-via-stream"]()
        results = []
        dst = HostWritableBuffer(stream.t, 4)
        stream.read(None, dst, None, results.append)
        assert results == []  # parked: nothing to read yet
        os.write(w, b"abcdef")
        assert loop.run_once()
        assert results == [0] and dst.items == list(b"abcd")
        dst = HostWritableBuffer(stream.t, 100)
        stream.read(None, dst, None, results.append)
        assert dst.items == list(b"ef")
        os.close(w)
        w = -1
        stream.read(None, HostWritableBuffer(stream.t, 100), None, results.append)
        assert results[-1] == 1  # DROPPED: the end of stdin
        assert done.pending_buffer is not None  # the future holds its ok value for a reader
    finally:
        os.close(r)
        if w >= 0:
            os.close(w)


# -- the 0.2 filesystem and streams, method by method ---------------------------------------------

def _ok(result):
    assert result.__class__.__name__ == "Ok", result
    return result.value


def test_descriptor_methods_behave_as_posix_does(tmp_path):
    root = Descriptor.preopen(str(tmp_path))
    rw = frozenset({"read", "write"})
    f = _ok(root.open_at(frozenset(), "f.txt", frozenset({"create", "exclusive"}), rw))
    assert root.open_at(frozenset(), "f.txt", frozenset({"create", "exclusive"}), rw).value == "exist"
    assert _ok(f.write(b"hello world", 0)) == 11
    assert _ok(f.read(5, 6)) == (b"world", False)
    assert _ok(f.read(100, 6)) == (b"world", True)
    assert _ok(f.get_type()) == "regular-file" and _ok(f.get_flags()) == rw
    _ok(f.set_size(5))
    assert _ok(f.stat())["size"] == 5
    out = _ok(f.append_via_stream())
    _ok(out.write(b"!!"))
    _ok(f.sync())
    _ok(f.sync_data())
    _ok(f.advise(0, 0, "normal"))
    assert (tmp_path / "f.txt").read_bytes() == b"hello!!"
    stream = _ok(f.read_via_stream(5))
    assert _ok(stream.blocking_read(10)) == b"!!"
    assert stream.read(10).value.case == "closed"
    w = _ok(f.write_via_stream(0))
    _ok(w.blocking_write_and_flush(b"J"))
    _ok(w.write_zeroes(1))
    assert (tmp_path / "f.txt").read_bytes() == b"J\0llo!!"
    _ok(f.set_times(Variant("no-change"), Variant("timestamp", {"seconds": 7, "nanoseconds": 0})))
    assert _ok(f.stat())["data-modification-timestamp"] == {"seconds": 7, "nanoseconds": 0}
    ro = _ok(root.open_at(frozenset(), "f.txt", frozenset(), frozenset({"read"})))
    assert ro.write(b"x", 0).value == "bad-descriptor"
    assert ro.is_same_object(f) and not ro.is_same_object(root)
    assert _ok(ro.metadata_hash()) == _ok(root.metadata_hash_at(frozenset(), "f.txt"))

    _ok(root.create_directory_at("d"))
    assert root.create_directory_at("d").value == "exist"
    _ok(root.symlink_at("f.txt", "link"))
    assert _ok(root.readlink_at("link")) == "f.txt"
    assert _ok(root.stat_at(frozenset(), "link"))["type"] == "symbolic-link"
    assert _ok(root.stat_at(frozenset({"symlink-follow"}), "link"))["type"] == "regular-file"
    _ok(root.link_at(frozenset(), "f.txt", root, "d/hard"))
    _ok(root.rename_at("d/hard", root, "moved"))
    _ok(root.set_times_at(frozenset(), "moved", Variant("now"), Variant("no-change")))
    entries = _ok(root.read_directory())
    names = []
    while (entry := _ok(entries.read_directory_entry())) is not None:
        names.append((entry["name"], entry["type"]))
    assert names == [("d", "directory"), ("f.txt", "regular-file"), ("link", "symbolic-link"),
                     ("moved", "regular-file")]
    assert root.unlink_file_at("d").value == "is-directory"
    assert root.remove_directory_at("f.txt").value == "not-directory"
    _ok(root.unlink_file_at("moved"))
    _ok(root.remove_directory_at("d"))
    assert f.create_directory_at("x").value == "not-directory"
    assert root.read(1, 0).value == "is-directory"
    assert root.open_at(frozenset(), "nope", frozenset(), frozenset({"read"})).value == "no-entry"
    for d in (f, ro, root):
        d.close()


def test_streams_and_pollables(tmp_path):
    from stackswitch.wasi.io_streams import (
        BinarySink,
        BytesSource,
        FdSource,
        InputStream,
        OutputStream,
        deadline_pollable,
        poll,
    )
    loop = EventLoop()
    sink = io.BytesIO()
    out = OutputStream(BinarySink(sink))
    assert _ok(out.check_write()) > 0
    src = InputStream(BytesSource(b"abcdef"), loop)
    assert _ok(out.splice(src, 2)) == 2 and _ok(out.blocking_splice(src, 10)) == 4
    assert sink.getvalue() == b"abcdef"
    assert src.skip(1).value.case == "closed"
    _ok(out.flush())
    _ok(out.blocking_flush())
    assert out.subscribe().ready()
    r, w = os.pipe()
    try:
        pipe = InputStream(FdSource(r), loop)
        assert _ok(pipe.read(10)) == b"" and not pipe.subscribe().ready()
        loop.call_later(20_000_000, lambda: os.write(w, b"xyz"))
        timer = deadline_pollable(time.monotonic_ns() + 5_000_000_000)
        start = time.perf_counter()
        assert poll(loop, [timer, pipe.subscribe()]) == [1]  # the pipe, long before the timer
        assert time.perf_counter() - start < 2
        assert _ok(pipe.blocking_skip(2)) == 2 and _ok(pipe.blocking_read(5)) == b"z"
        os.close(w)
        w = -1
        assert pipe.blocking_read(5).value.case == "closed"
        assert poll(loop, [deadline_pollable(time.monotonic_ns() + 10_000_000)]) == [0]
        with pytest.raises(Trap, match="empty"):
            poll(loop, [])
    finally:
        os.close(r)
        if w >= 0:
            os.close(w)


# -- WASI 0.3 filesystem -----------------------------------------------------------------------------

@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_wasi_0_3_guest_writes_and_reads_files_through_streams(wasi_guests, tmp_path, strategy):
    """files3.c writes data.txt through write-via-stream, reads it back through
    read-via-stream, is refused ../escape.txt with error-code 30 (not-permitted), and
    writes what it saw to report.txt."""
    linker = Linker(strategy=strategy)
    linker.add_wasi(dirs=[str(tmp_path)])
    run = linker.instantiate(Component.from_file(wasi_guests["files3"]))[
        "wasi:cli/run@0.3.0"].exports["run"]
    assert run().__class__.__name__ == "Ok"
    assert (tmp_path / "data.txt").read_text() == "hello, 0.3"
    assert (tmp_path / "report.txt").read_text() == "read back: hello, 0.3; escape: error 30\n"
    assert not (tmp_path.parent / "escape.txt").exists()


def test_wasi_0_3_descriptors_speak_0_3_shapes(tmp_path):
    from stackswitch.canon.host_streams import StreamReader
    from stackswitch.wasi.filesystem3 import ERROR_CODES, Descriptor3

    (tmp_path / "sub").mkdir()
    (tmp_path / "a.txt").write_text("abc")
    store = Linker().store
    root = Descriptor3(Descriptor.preopen(str(tmp_path)), store, loop_of(store.scheduler))
    assert ERROR_CODES.index("not-permitted") == 30
    assert root.open_at(frozenset(), "../x", frozenset(), frozenset({"read"})).value \
        == Variant("not-permitted")
    assert _ok(root.get_type()) == Variant("directory")
    assert _ok(root.stat_at(frozenset(), "a.txt"))["type"] == Variant("regular-file")
    entries, done = root.read_directory()
    assert StreamReader(store, entries).read_all() == [
        {"type": Variant("regular-file"), "name": "a.txt"},
        {"type": Variant("directory"), "name": "sub"}]
    a = _ok(root.open_at(frozenset(), "a.txt", frozenset(), frozenset({"read"})))
    data, done = a.read_via_stream(1)
    assert StreamReader(store, data).read_all() == list(b"bc")
    _, done = root.read_via_stream(0)
    from stackswitch.canon.host_streams import FutureReader
    assert FutureReader(store, done).get() == Variant("error", Variant("is-directory"))


def test_timers_fire_even_while_threads_keep_yielding():
    """A host task yields until another one's 50 ms sleep is over: threads are ready on every
    tick, so the scheduler never idles, yet it still serves the timer every few ticks."""
    from stackswitch.canon.store import all_resolved
    from stackswitch.canon.types import FuncType
    from stackswitch.embed.host import sleep, yield_

    store = Linker().store
    woke = []

    def sleeper():
        sleep(0.05)
        woke.append(True)

    def yielder():
        spins = 0
        while not woke:
            spins += 1
            assert spins < 1_000_000, "the timer never fired"
            yield_()

    async_ft = FuncType([], [], async_=True)
    start = time.perf_counter()  # before the sleeper starts its timer
    calls = [store.invoke(store.host_function(f, async_ft, f.__name__), [])
             for f in (sleeper, yielder)]
    store.run_until(all_resolved(calls))
    assert 0.05 <= time.perf_counter() - start < 2


def test_socket_options_round_trip_and_two_phase_steps_check_their_state():
    api, _ = _sockets(allow=True)
    m = {k.removeprefix("[method]"): v for k, v in api.items()}
    tcp = _ok(api["create-tcp-socket"]("ipv4"))
    udp = _ok(api["create-udp-socket"]("ipv4"))
    for kind, sock, name, value, expected in [
            ("tcp", tcp, "keep-alive-idle-time", 2_500_000_000, 2_000_000_000),  # whole seconds
            ("tcp", tcp, "keep-alive-interval", 10, 1_000_000_000),              # at least one
            ("tcp", tcp, "keep-alive-count", 7, 7),
            ("tcp", tcp, "hop-limit", 33, 33),
            ("udp", udp, "unicast-hop-limit", 17, 17)]:
        assert _ok(m[f"{kind}-socket.set-{name}"](sock, value)) is None
        assert _ok(m[f"{kind}-socket.{name}"](sock)) == expected, name
    for kind, sock in (("tcp", tcp), ("udp", udp)):
        _ok(m[f"{kind}-socket.set-receive-buffer-size"](sock, 1 << 40))   # clamped, not an error
        assert _ok(m[f"{kind}-socket.receive-buffer-size"](sock)) > 0
        assert m[f"{kind}-socket.local-address"](sock).value == "invalid-state"
        assert m[f"{kind}-socket.finish-bind"](sock).value == "not-in-progress"
        assert m[f"{kind}-socket.address-family"](sock) == "ipv4"
    network = api["instance-network"]()
    ipv6 = Variant("ipv6", {"port": 0, "address": (0,) * 8, "flow-info": 0, "scope-id": 0})
    assert m["tcp-socket.start-bind"](tcp, network, ipv6).value == "invalid-argument"
    assert m["tcp-socket.finish-listen"](tcp).value == "not-in-progress"
    for sock in (tcp, udp):
        sock.close()
