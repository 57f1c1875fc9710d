#!/usr/bin/env python3
"""nook vs QEMU microvm: boot the same vmlinux + initramfs with the same command line.

    tests/bench/boot_bench.py [BUILD_DIR]      (BENCH_RUNS=3 by default)

Per run, measured by this script from the moment it starts the VMM process:
  * first entry: nook logs "first guest entry N ms after start" (NOOK_LOG=info); QEMU has
    no equivalent, reported as n/a.
  * greeting:    when the line "nook-guest: hello from init" appears on the serial output
                 (both VMMs: stdout read line by line, timestamped on arrival).
  * exit:        when the process exits (the guest reboots right after the greeting).
  * overhead:    peak RSS (VmHWM) minus guest RAM actually resident.
                 QEMU: sampled from /proc/PID/status and /proc/PID/smaps every 20 ms while
                 it runs (guest RAM = the mapping of --memory bytes, up to 4 MiB alignment
                 slack; its Rss is the RAM the guest touched); the last sample counts.
                 nook: it reports both figures itself at exit (NOOK_LOG=info: VmHWM and
                 the Rss of every VMA inside its guest RAM reservation, which the kernel
                 and initrd file mappings split into several VMAs), used instead.
Medians over BENCH_RUNS runs, and nook/QEMU ratios.
"""
import os
import re
import statistics
import subprocess
import sys
import threading
import time

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
TIMEOUT = int(os.environ.get("BENCH_TIMEOUT", "400"))
MEM_MB = 128
GUEST = os.path.join(BUILD, "guest")
VMLINUX = os.path.join(GUEST, "vmlinux")
INITRD = os.path.join(GUEST, "initramfs.cpio")
NOOK = os.path.join(BUILD, "nook")
GREETING = b"nook-guest: hello from init"


def sample_memory(pid, mem_bytes, out, stop):
    """Keeps the latest (VmHWM KiB, guest RAM Rss KiB) of pid in out until stop is set."""
    size_kb = mem_bytes // 1024
    while not stop.is_set():
        try:
            with open(f"/proc/{pid}/status") as f:
                hwm = int(re.search(r"VmHWM:\s+(\d+)", f.read()).group(1))
            guest = 0
            with open(f"/proc/{pid}/smaps") as f:
                cur_size = None
                for line in f:
                    if line.startswith("Size:"):
                        cur_size = int(line.split()[1])
                    elif (line.startswith("Rss:") and cur_size is not None and
                          size_kb <= cur_size <= size_kb + 4096):
                        guest = max(guest, int(line.split()[1]))
            out["hwm"], out["guest"] = hwm, guest
        except (OSError, AttributeError, ValueError):
            pass
        stop.wait(0.02)


def run(cmd, env=None):
    res = {"first": None, "greeting": None, "exit": None, "hwm": None, "guest": None,
           "self_overhead": None, "rc": None}
    start = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, env=env)
    mem, stop = {}, threading.Event()
    t = threading.Thread(target=sample_memory, args=(p.pid, MEM_MB << 20, mem, stop))
    t.start()
    timer = threading.Timer(TIMEOUT, p.kill)
    timer.start()
    for line in p.stdout:
        now = (time.monotonic() - start) * 1000
        if res["greeting"] is None and GREETING in line:
            res["greeting"] = now
        m = re.search(rb"first guest entry ([0-9.]+) ms", line)
        if m:
            res["first"] = float(m.group(1))
        m = re.search(rb"peak RSS (\d+) KiB, guest RAM resident (\d+) KiB, overhead (-?\d+) KiB",
                      line)
        if m:
            res["self_hwm"] = int(m.group(1)) / 1024
            res["self_guest"] = int(m.group(2)) / 1024
            res["self_overhead"] = int(m.group(3)) / 1024
    res["rc"] = p.wait()
    res["exit"] = (time.monotonic() - start) * 1000
    timer.cancel()
    stop.set()
    t.join()
    if "hwm" in mem:
        res["hwm"], res["guest"] = mem["hwm"] / 1024, mem["guest"] / 1024
    if res.get("self_hwm") is not None:
        res["hwm"], res["guest"] = res["self_hwm"], res["self_guest"]
    return res


def main():
    for f in (NOOK, VMLINUX, INITRD):
        if not os.path.exists(f):
            print(f"bench-boot: {f} missing (make)", file=sys.stderr)
            return 1
    # The exact command line nook gives the guest (printed at NOOK_LOG=debug).
    env = dict(os.environ, NOOK_LOG="debug")
    probe = subprocess.run(["timeout", "5", NOOK, "run", "--kernel", VMLINUX, "--initrd",
                            INITRD, "--console", "none"], env=env, capture_output=True,
                           text=True).stderr
    m = re.search(r"kernel command line: (.*)", probe)
    if not m:
        print("bench-boot: could not read nook's kernel command line", file=sys.stderr)
        return 1
    cmdline = m.group(1)
    nook_cmd = [NOOK, "run", "--kernel", VMLINUX, "--initrd", INITRD, "--memory", f"{MEM_MB}M"]
    qemu_cmd = ["qemu-system-x86_64", "-M", "microvm,acpi=off", "-enable-kvm",
                "-cpu", "host,-arch-capabilities", "-m", f"{MEM_MB}M", "-smp", "1",
                "-nodefaults", "-no-user-config", "-display", "none", "-device", "i8042",
                "-device", "pvpanic", "-no-reboot", "-serial", "stdio",
                "-kernel", VMLINUX, "-initrd", INITRD, "-append", cmdline]
    print(f"bench-boot: {RUNS} runs each, {MEM_MB} MiB, 1 vCPU, cmdline: {cmdline}")
    results = {"nook": [], "qemu": []}
    for i in range(RUNS):
        for name, cmd, env in (("nook", nook_cmd, dict(os.environ, NOOK_LOG="info")),
                               ("qemu", qemu_cmd, None)):
            r = run(cmd, env)
            results[name].append(r)
            print(f"  run {i + 1} {name}: rc={r['rc']} first-entry={fmt(r['first'])} ms "
                  f"greeting={fmt(r['greeting'])} ms exit={fmt(r['exit'])} ms "
                  f"peak-rss={fmt(r['hwm'])} MiB guest-ram={fmt(r['guest'])} MiB", flush=True)

    def med(name, key, f=lambda r, k: r[k]):
        vals = [f(r, key) for r in results[name] if r[key] is not None]
        return statistics.median(vals) if vals else None

    over = lambda r, k: (r["hwm"] - r["guest"]) if r["hwm"] is not None else None
    rows = [
        ("VMM start -> first guest entry (ms)", med("nook", "first"), None),
        ("VMM start -> init greeting (ms)", med("nook", "greeting"), med("qemu", "greeting")),
        ("VMM start -> process exit (ms)", med("nook", "exit"), med("qemu", "exit")),
        ("peak RSS (MiB)", med("nook", "hwm"), med("qemu", "hwm")),
        ("guest RAM resident (MiB)", med("nook", "guest"), med("qemu", "guest")),
        ("VMM overhead = peak RSS - guest RAM (MiB)", med("nook", "hwm", over),
         med("qemu", "hwm", over)),
    ]
    print(f"\n{'median of ' + str(RUNS):45s} {'nook':>12s} {'qemu':>12s} {'nook/qemu':>10s}")
    for label, a, b in rows:
        ratio = f"{a / b:.2f}" if a is not None and b else "n/a"
        print(f"{label:45s} {fmt(a):>12s} {fmt(b):>12s} {ratio:>10s}")
    return 0


def fmt(v):
    return "n/a" if v is None else f"{v:.1f}"


if __name__ == "__main__":
    sys.exit(main())
