#!/usr/bin/env python3
"""`nook run -- CMD` vs QEMU microvm + virtiofsd, and nook's console throughput.

    tests/bench/run_bench.py [BUILD_DIR]      (make bench-run; BENCH_RUNS=5, BENCH_TIMEOUT=400)

Prints figures, never fails on speed. Per row, BENCH_RUNS runs and the median:
  * run-true, host root: `nook run --host-root -- true`, wall time from spawn to exit;
    QEMU peer: a fresh virtiofsd sharing / plus QEMU microvm booting the same kernel with
    nook's default command line + `root=TAG rootfstype=virtiofs rw init=/bin/true`,
    wall time from virtiofsd's spawn to QEMU's exit. /bin/true exiting as PID 1 panics
    the kernel, which (panic=-1, -no-reboot) ends QEMU: boot to a command that does
    nothing, the same work. The run counts only when the serial log shows that panic.
  * run-true, busybox root: the same with `--root DIR` / virtiofsd sharing DIR, a temp
    dir holding a copy of /bin/busybox (busybox-static) with sh and true linked to it.
  * time in nook's init: "command started" minus "init started" of nook's NOOK_LOG=info
    line (both measured by nook from its start).
  * virtio-console: `nook run --host-root -- cat FILE` (16 MiB of random bytes) with
    stdout to a file, checked byte for byte; (wall - run-true median) -> MB/s.
  * 8250: `nook run -v --host-root -- sh -c 'head -c 262144 FILE > /dev/ttyS0'`, the
    kernel console on nook's stderr, sent to a file that must get >= 256 KiB (the guest
    tty adds a CR before each LF); (wall - run-true median) -> MB/s.
nook's rows print n/a when nook fails (the failing run's stderr tail is shown).
Environment: BENCH_RUNS, BENCH_TIMEOUT (seconds per boot), VIRTIOFSD (default
/usr/lib/qemu/virtiofsd), QEMU (default qemu-system-x86_64), BUSYBOX (default /bin/busybox).
"""
import hashlib
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
TIMEOUT = float(os.environ.get("BENCH_TIMEOUT", "400"))
NOOK = os.path.join(BUILD, "nook")
VMLINUX = os.path.join(BUILD, "guest", "vmlinux")
VIRTIOFSD = os.environ.get("VIRTIOFSD", "/usr/lib/qemu/virtiofsd")
QEMU = os.environ.get("QEMU", "qemu-system-x86_64")
BUSYBOX = os.environ.get("BUSYBOX", "/bin/busybox")
MEM_MB = 128                    # nook's default guest RAM; QEMU gets the same
TAG = "benchroot"
BIG = 16 << 20                  # bytes through virtio-console
SERIAL_BYTES = 256 << 10        # bytes through the 8250
PANIC_RE = re.compile(rb"Attempted to kill init")
INIT_RE = re.compile(rb"init started after ([0-9.]+) ms")
CMD_RE = re.compile(rb"command started after ([0-9.]+) ms")

# Only when the NOOK_LOG=debug probe fails: nook's documented default command line (and
# what it prepends on software-virtualized hosts), as of this writing.
FALLBACK_CMDLINE = ("console=ttyS0 reboot=k panic=-1 quiet no_timer_check tsc=reliable "
                    "kbd_poweroff pvpanic_mmio.ioport=0x505")
PVM_PARAMS = ("noxsave clearcpuid=popcnt,avx,avx2,avx512f,bmi1,bmi2,movbe,erms,fsrm,fsgsbase,"
              "rdrand,rdseed,sse4_1,sse4_2,aes,pclmulqdq,abm,smap,smep,cx16 rodata=off "
              "percpu_alloc=page noreplace-smp")

CHILDREN = set()                # Popen objects still to reap (each in its own session)
TMP = None


def say(msg):
    print(f"bench-run: {msg}", file=sys.stderr, flush=True)


def kill_tree(p):
    """SIGKILL the process group of one child we started (it leads its own session)."""
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def spawn(cmd, stdout, stderr, env=None):
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr, env=env,
                         start_new_session=True)
    CHILDREN.add(p)
    return p


def reap(p, timeout=None):
    """Waits for p (killing its group after timeout seconds); returns (rc, timed_out)."""
    fired = threading.Event()

    def expire():
        fired.set()
        kill_tree(p)

    timer = threading.Timer(timeout, expire) if timeout else None
    if timer:
        timer.start()
    try:
        rc = p.wait()           # a blocking waitpid: no polling delay in the wall time
    finally:
        if timer:
            timer.cancel()
    kill_tree(p)                # anything the child left in its group
    CHILDREN.discard(p)
    return rc, fired.is_set()


def cleanup():
    for p in list(CHILDREN):
        kill_tree(p)
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        CHILDREN.discard(p)
    if TMP:
        shutil.rmtree(TMP, ignore_errors=True)


def tail(path, n=12):
    try:
        with open(path, "rb") as f:
            data = f.read()[-8192:]
    except OSError:
        return ""
    lines = data.decode("utf-8", "replace").splitlines()[-n:]
    return "\n".join("    | " + line[:200] for line in lines)


# ---------------------------------------------------------------- nook

def nook_cmdline():
    """nook's default guest command line (NOOK_LOG=debug), minus its device entries."""
    env = dict(os.environ, NOOK_LOG="debug")
    try:
        p = spawn([NOOK, "run", "--kernel", VMLINUX, "--console", "none"], subprocess.DEVNULL,
                  subprocess.PIPE, env)
    except OSError as e:
        say(f"cannot start {NOOK}: {e}")
        return None
    timer = threading.Timer(10, kill_tree, (p,))
    timer.start()
    line = None
    for raw in p.stderr:
        m = re.search(rb"kernel command line: (.*)", raw)
        if m:
            line = m.group(1).decode()
            break
    timer.cancel()
    kill_tree(p)
    p.stderr.close()
    reap(p)
    if line is None:
        return None
    return " ".join(w for w in line.split() if not w.startswith("virtio_mmio.device="))


def nook_run(name, args, check, verbose_console=False):
    """One `nook run ARGS`; check(rc, out_path, err_path) -> error string or None.
    Returns a dict: wall ms, init/cmd ms (from nook's info line), ok."""
    out = os.path.join(TMP, f"{name}.out")
    err = os.path.join(TMP, f"{name}.err")
    env = dict(os.environ, NOOK_LOG="info")
    cmd = [NOOK, "run"] + (["-v"] if verbose_console else []) + ["--kernel", VMLINUX] + args
    res = {"wall": None, "init": None, "cmd": None, "post": None, "ok": False}
    with open(out, "wb") as fo, open(err, "wb") as fe:
        start = time.monotonic()
        try:
            p = spawn(cmd, fo, fe, env)
        except OSError as e:
            say(f"{name}: cannot start nook: {e}")
            return res
        rc, timed_out = reap(p, TIMEOUT)
        wall = (time.monotonic() - start) * 1000
    problem = f"timed out after {TIMEOUT:.0f} s" if timed_out else check(rc, out, err)
    # With -v the guest console shares stderr with nook's log lines (and need not end
    # in a newline before them): search the whole file, the last match counts.
    with open(err, "rb") as f:
        data = f.read()
    for key, rx in (("init", INIT_RE), ("cmd", CMD_RE)):
        found = rx.findall(data)
        if found:
            res[key] = float(found[-1])
    if problem:
        say(f"{name}: {problem} (exit {rc}); stderr tail:\n{tail(err)}")
    else:
        res["wall"], res["ok"] = wall, True
        if res["cmd"] is not None:
            res["post"] = wall - res["cmd"]     # command start -> nook's exit
    for f in (out, err):        # up to 16 MiB each: not kept past the check
        os.unlink(f)
    return res


def want_rc0(rc, out, err):
    return None if rc == 0 else f"exit status {rc}, expected 0"


def want_stdout(digest):
    def check(rc, out, err):
        if rc != 0:
            return f"exit status {rc}, expected 0"
        size = os.path.getsize(out)
        if size != BIG:
            return f"stdout has {size} bytes, expected {BIG}"
        if sha256(out) != digest:
            return "stdout differs from the file"
        return None
    return check


def want_stderr_at_least(n):
    def check(rc, out, err):
        if rc != 0:
            return f"exit status {rc}, expected 0"
        size = os.path.getsize(err)
        return None if size >= n else f"stderr has {size} bytes, expected >= {n}"
    return check


# ---------------------------------------------------------------- QEMU + virtiofsd

def qemu_run(name, share, cmdline):
    """virtiofsd (fresh) sharing `share` + QEMU microvm, init=/bin/true.
    Wall time from virtiofsd's spawn to QEMU's exit; ok when the guest ran /bin/true as
    PID 1 (the kernel's "Attempted to kill init" panic is on the serial log)."""
    sock = os.path.join(TMP, f"{name}.sock")
    vlog = os.path.join(TMP, f"{name}.virtiofsd")
    qlog = os.path.join(TMP, f"{name}.serial")
    # sandbox=chroot: the default (namespace) pivot_root()s into the share, which fails
    # for / ("Device or resource busy"); chroot is used for both shares alike. This
    # virtiofsd has no read-only option: the share is read-write (true writes nothing).
    vcmd = [VIRTIOFSD, f"--socket-path={sock}", "-o", f"source={share}", "-o", "cache=auto",
            "-o", "sandbox=chroot"]
    qcmd = [QEMU, "-M", "microvm,acpi=off,memory-backend=mem", "-enable-kvm",
            "-cpu", "host,-arch-capabilities", "-m", f"{MEM_MB}M", "-smp", "1",
            "-nodefaults", "-no-user-config", "-display", "none",
            "-device", "i8042", "-device", "pvpanic", "-no-reboot", "-serial", "stdio",
            "-global", "virtio-mmio.force-legacy=false",
            "-object", f"memory-backend-memfd,id=mem,size={MEM_MB}M,share=on",
            "-chardev", f"socket,id=c0,path={sock}",
            "-device", f"vhost-user-fs-device,chardev=c0,tag={TAG}",
            "-kernel", VMLINUX,
            "-append", f"{cmdline} root={TAG} rootfstype=virtiofs rw init=/bin/true"]
    res = {"wall": None, "ok": False}
    with open(vlog, "wb") as fv, open(qlog, "wb") as fq:
        start = time.monotonic()
        try:
            v = spawn(vcmd, fv, fv)
        except OSError as e:
            say(f"{name}: cannot start virtiofsd: {e}")
            return res
        deadline = start + 30
        while not os.path.exists(sock) and v.poll() is None and time.monotonic() < deadline:
            time.sleep(0.001)
        if not os.path.exists(sock):
            reap(v, 1)
            say(f"{name}: virtiofsd did not start:\n{tail(vlog)}")
            return res
        try:
            q = spawn(qcmd, fq, subprocess.STDOUT)
        except OSError as e:
            reap(v, 1)
            say(f"{name}: cannot start QEMU: {e}")
            return res
        rc, timed_out = reap(q, TIMEOUT)
        wall = (time.monotonic() - start) * 1000
        reap(v, 5)              # virtiofsd ends when QEMU hangs up; killed after 5 s
    with open(qlog, "rb") as f:
        panicked = PANIC_RE.search(f.read()) is not None
    if timed_out or not panicked:
        why = f"timed out after {TIMEOUT:.0f} s" if timed_out else "no init panic on the serial log"
        say(f"{name}: {why} (QEMU exit {rc}); serial/QEMU tail:\n{tail(qlog)}\n"
            f"  virtiofsd tail:\n{tail(vlog, 5)}")
        return res
    res["wall"], res["ok"] = wall, True
    return res


# ---------------------------------------------------------------- helpers

def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def make_busybox_root():
    d = os.path.join(TMP, "bbroot")
    os.makedirs(os.path.join(d, "bin"))
    shutil.copy2(BUSYBOX, os.path.join(d, "bin", "busybox"))
    for link in ("sh", "true"):
        os.symlink("busybox", os.path.join(d, "bin", link))
    for sub in ("proc", "sys", "dev", "tmp", "run", "etc"):
        os.makedirs(os.path.join(d, sub))
    return d


def median(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def fmt(v, digits=1):
    return "n/a" if v is None else f"{v:.{digits}f}"


def fmt_rate(v):
    return "n/a" if v is None else f"{v:.4g}"


def ratio(a, b, digits=2):
    return f"{a / b:.{digits}f}" if a is not None and b else "n/a"


def rate(nbytes, wall_ms, base_ms):
    """MB/s (10^6 bytes) for nbytes moved in (wall - base) ms; None if not positive."""
    if wall_ms is None or base_ms is None or wall_ms - base_ms <= 0:
        return None
    return nbytes / 1e6 / ((wall_ms - base_ms) / 1000)


def main():
    global TMP
    for f, why in ((VMLINUX, "make guest-kernel"), (NOOK, "make")):
        if not os.path.exists(f):
            say(f"{f} missing ({why})")
            return 1
    have_kvm = os.path.exists("/dev/kvm")
    if not have_kvm:
        say("SKIP: no /dev/kvm")
        return 0
    TMP = tempfile.mkdtemp(prefix="nook-run-bench.")
    bbroot = None
    if os.path.exists(BUSYBOX):
        bbroot = make_busybox_root()
    else:
        say(f"{BUSYBOX} missing (Debian package busybox-static, scripts/install-deps.sh): "
            "busybox-root rows skipped")
    have_qemu = shutil.which(QEMU) is not None and os.access(VIRTIOFSD, os.X_OK)
    if not have_qemu:
        say(f"{QEMU} or {VIRTIOFSD} missing: QEMU rows skipped")

    cmdline = nook_cmdline()
    if cmdline is None:
        cmdline = FALLBACK_CMDLINE
        if os.path.isdir("/sys/module/kvm_pvm") or os.environ.get("NOOK_PVM") == "1":
            cmdline = f"{PVM_PARAMS} {cmdline}"
        say("could not read nook's kernel command line (NOOK_LOG=debug probe): "
            "QEMU gets nook's documented default")

    big = os.path.join(TMP, "random16m")
    with open(big, "wb") as f:
        f.write(os.urandom(BIG))
    digest = sha256(big)

    print(f"bench-run: {RUNS} run(s) each, {MEM_MB} MiB, 1 vCPU, kernel {VMLINUX}, "
          f"timeout {TIMEOUT:.0f} s per boot")
    if have_qemu:
        print(f"bench-run: QEMU cmdline: {cmdline} root={TAG} rootfstype=virtiofs rw init=/bin/true")
        print(f"bench-run: virtiofsd -o cache=auto -o sandbox=chroot, fresh per run "
              f"(its start-up counted; it has no read-only option: / is shared read-write)")
    sys.stdout.flush()

    R = {k: [] for k in ("nook_host", "nook_bb", "qemu_host", "qemu_bb", "cat", "serial")}
    serial_cmd = f"head -c {SERIAL_BYTES} {big} > /dev/ttyS0"
    for i in range(RUNS):
        n = i + 1
        r = nook_run(f"nook-host-true.{n}", ["--host-root", "--", "true"], want_rc0)
        R["nook_host"].append(r)
        print(f"  run {n} nook --host-root true: wall={fmt(r['wall'])} ms "
              f"init-started={fmt(r['init'])} ms command-started={fmt(r['cmd'])} ms", flush=True)
        if have_qemu:
            r = qemu_run(f"qemu-host-true.{n}", "/", cmdline)
            R["qemu_host"].append(r)
            print(f"  run {n} qemu+virtiofsd / true: wall={fmt(r['wall'])} ms", flush=True)
        if bbroot:
            r = nook_run(f"nook-bb-true.{n}", ["--root", bbroot, "--", "true"], want_rc0)
            R["nook_bb"].append(r)
            print(f"  run {n} nook --root busybox true: wall={fmt(r['wall'])} ms "
                  f"init-started={fmt(r['init'])} ms command-started={fmt(r['cmd'])} ms",
                  flush=True)
            if have_qemu:
                r = qemu_run(f"qemu-bb-true.{n}", bbroot, cmdline)
                R["qemu_bb"].append(r)
                print(f"  run {n} qemu+virtiofsd busybox true: wall={fmt(r['wall'])} ms",
                      flush=True)
        r = nook_run(f"nook-cat.{n}", ["--host-root", "--", "cat", big],
                     want_stdout(digest))
        R["cat"].append(r)
        print(f"  run {n} nook cat 16 MiB > stdout: wall={fmt(r['wall'])} ms", flush=True)
        r = nook_run(f"nook-serial.{n}", ["--host-root", "--", "sh", "-c", serial_cmd],
                     want_stderr_at_least(SERIAL_BYTES), verbose_console=True)
        R["serial"].append(r)
        print(f"  run {n} nook -v head -c 256K > /dev/ttyS0: wall={fmt(r['wall'])} ms",
              flush=True)

    def med(key, field="wall"):
        return median([r.get(field) for r in R[key] if r["ok"]])

    def in_init(key):
        return median([r["cmd"] - r["init"] for r in R[key]
                       if r["ok"] and r["cmd"] is not None and r["init"] is not None])

    nh, qh, nb, qb = med("nook_host"), med("qemu_host"), med("nook_bb"), med("qemu_bb")
    init_h, init_b = in_init("nook_host"), in_init("nook_bb")
    cat_ms, ser_ms = med("cat"), med("serial")
    vc_rate = rate(BIG, cat_ms, nh)
    ser_rate = rate(SERIAL_BYTES, ser_ms, nh)
    # The same from nook's "command started" on: boot-time jitter (seconds on a
    # software-virtualized host) drops out of the difference.
    post_true = med("nook_host", "post")
    vc_rate2 = rate(BIG, med("cat", "post"), post_true)
    ser_rate2 = rate(SERIAL_BYTES, med("serial", "post"), post_true)

    rows = [
        ("run true, host root: spawn -> exit (ms)", nh, qh, True),
        ("run true, busybox root: spawn -> exit (ms)", nb, qb, True),
        ("host root: nook start -> init started (ms)", med("nook_host", "init"), None, False),
        ("host root: nook start -> command started (ms)", med("nook_host", "cmd"), None, False),
        ("host root: time in nook's init (ms)", init_h, None, False),
        ("busybox root: time in nook's init (ms)", init_b, None, False),
        ("cat 16 MiB > stdout, host root (ms)", cat_ms, None, False),
        ("  virtio-console throughput (MB/s)", vc_rate, None, False),
        ("head -c 256K > /dev/ttyS0 (-v) (ms)", ser_ms, None, False),
        ("  8250 throughput (MB/s)", ser_rate, None, False),
        ("run true: command started -> exit (ms)", post_true, None, False),
        ("cat 16 MiB: command started -> exit (ms)", med("cat", "post"), None, False),
        ("  virtio-console, from command start (MB/s)", vc_rate2, None, False),
        ("256K > ttyS0: command started -> exit (ms)", med("serial", "post"), None, False),
        ("  8250, from command start (MB/s)", ser_rate2, None, False),
    ]
    print(f"\n{'median of ' + str(RUNS):48s} {'nook':>12s} {'qemu':>12s} {'nook/qemu':>10s}")
    for label, a, b, cmp in rows:
        val = fmt_rate(a) if "MB/s" in label else fmt(a)
        print(f"{label:48s} {val:>12s} {fmt(b) if cmp else '-':>12s} "
              f"{ratio(a, b) if cmp else '-':>10s}")
    print("(MB/s = 10^6 B/s: the bytes moved over (wall - run-true wall), or over (command "
          "start -> exit) minus run-true's;\n QEMU wall: virtiofsd spawn -> QEMU exit)")
    print()
    print(f"nook run-true / QEMU run-true: {ratio(nh, qh)} (goal <= 0.7)")
    print(f"nook run-true / QEMU run-true, busybox root: {ratio(nb, qb)}")
    print(f"time in nook's init: {fmt(init_h)} ms (goal < 50 ms)")
    vr = f"{vc_rate / ser_rate:.1f}" if vc_rate and ser_rate else "n/a"
    print(f"virtio-console / 8250 throughput: {vr} x (goal >= 20 x)")
    vr2 = f"{vc_rate2 / ser_rate2:.1f}" if vc_rate2 and ser_rate2 else "n/a"
    print(f"virtio-console / 8250 throughput, timed from command start: {vr2} x")
    return 0


def on_signal(signum, frame):
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    try:
        rc = main()
    except KeyboardInterrupt:
        rc = 130
    finally:
        cleanup()
    sys.exit(rc)
