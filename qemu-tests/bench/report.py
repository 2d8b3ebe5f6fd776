#!/usr/bin/env python3
"""Write the benchmark report and the boot phase chart from results.json
(what run-all.sh merged): DIR/report.md and DIR/boot-phases.svg.

usage: report.py --results results.json --dir DIR [--optimisations FILE]

Python standard library only.  Missing benchmarks or figures are reported
as such ("not measured"), never invented.
"""
import argparse
import html
import json
import os
import re
import sys

# Phase colours, in timeline order (the order phases-bench.sh writes).
COLOURS = ["#8c564b", "#e377c2", "#7f7f7f", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd",
           "#17becf", "#bcbd22", "#d62728"]
TOTAL_PHASE = "VM start → first container output byte"


def ms(v):
    return "not measured" if v is None else "%.1f ms" % (v * 1000)


def fmt_stats(s, unit="ms"):
    """median (± half the spread) [n]; seconds in, ms or s out."""
    if not s or s.get("median") is None:
        return "not measured"
    k, u = (1000.0, "ms") if unit == "ms" else (1.0, "s")
    med = s["median"] * k
    out = "%.1f %s" % (med, u) if unit == "ms" else "%.2f %s" % (med, u)
    spread = s.get("spread")
    if spread is None and s.get("min") is not None and s.get("max") is not None:
        spread = s["max"] - s["min"]
    if s.get("n", 0) > 1 and spread is not None:
        out += " (±%.1f)" % (spread * k / 2) if unit == "ms" else " (±%.2f)" % (spread * k / 2)
    return out + ("" if s.get("n") is None else " [n=%d]" % s["n"])


def human_bytes(n):
    if n is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return ("%d %s" % (n, unit)) if unit == "B" else ("%.1f %s" % (n, unit))
        n /= 1024.0
    return str(n)


def phases_of(res, clock):
    p = (res.get("phases") or {}).get(clock) or {}
    return [(x["phase"], x.get("stats")) for x in p.get("phases_s") or []]


def peers_of(boot):
    """[(name, stats of kernel start -> /init under icount, kernel info)], not run {name: why};
    boot is boot.json's top level (q35) or its "microvm" object."""
    rows = []
    for name, v in sorted((boot.get("boot") or {}).items(), key=lambda kv: (kv[0] != "lcow", kv[0])):
        # The TSC-clock figure where the kernel logged it (phases-bench's
        # kernel start -> /init is on that clock), else the printk one.
        tsc = v.get("kernel_to_init_tsc_icount_s")
        rows.append((name, tsc if tsc and tsc.get("n") else v.get("kernel_to_init_icount_s"), v))
    return rows, boot.get("peers_not_run") or {}


def peer_tables(L, title, m, not_run):
    """One machine's kernel start -> /init and -> negotiated tables; m is
    boot.json's top level (q35) or its "microvm" object."""
    peers, _ = peers_of(m)
    L.append("### %s" % title)
    L.append("")
    L.append("`%s`; each kernel boots this project's initrd, init prints the kernel log (dmesg) and powers "
             "off. Kernel start → /init: the printk time of \"Run /init as init process\" (printk "
             "clock) and the same on the TSC clock (see below)." % m.get("machine"))
    L.append("")
    L.append("| kernel | version | bzImage | kernel start → /init (icount, TSC clock) | × ours | the same, printk clock | Hyper-V-like (TSC clock) | × ours | QEMU start → exit (wall, icount boot) |")
    L.append("|---|---|---|---|---|---|---|---|---|")
    for n, _, v in peers:
        hv = v.get("hyperv_like") or {}
        L.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            n, v.get("version") or "-", human_bytes(v.get("kernel_bytes")),
            fmt_stats(v.get("kernel_to_init_tsc_icount_s")), times(v.get("times_lcow")),
            fmt_stats(v.get("kernel_to_init_icount_s")),
            hv.get("not_run") or fmt_stats(hv.get("kernel_to_init_tsc_icount_s")), times(hv.get("times_lcow")),
            fmt_stats(v.get("boot_wall_s"), "s")))
    for n, why in sorted(not_run.items()):
        L.append("| %s | | | %s | | | | | |" % (n, why))
    L.append("")
    neg = m.get("negotiate") or {}
    if neg.get("kernels"):
        L.append("Kernel start → NegotiateProtocol answered, the phase the targets name, for every kernel "
                 "that gets there: `%s`. The agent's CLOCK_BOOTTIME on its NegotiateProtocol response, on "
                 "the TSC clock. Debian's kernel has virtio and vsock as modules: its initrd also carries "
                 "them and `bench-probe modules` loads them before the product's chain, as a modular "
                 "kernel's initramfs must. Host-paced at the end (the dial, the request): under icount "
                 "each wait for the host costs a jump to the guest's next timer deadline."
                 % neg.get("machine"))
        L.append("")
        L.append("| kernel | kernel start → negotiated (icount) | × ours | Hyper-V-like | × ours | QEMU start → seen by the host (wall, icount boot) |")
        L.append("|---|---|---|---|---|---|")
        for n, v in sorted(neg["kernels"].items(), key=lambda kv: (kv[0] != "lcow", kv[0])):
            if v.get("not_run"):
                L.append("| %s | %s | | | | |" % (n, v["not_run"]))
                continue
            hv = v.get("hyperv_like") or {}
            L.append("| %s | %s | %s | %s | %s | %s |" % (
                n, fmt_stats(v.get("kernel_to_negotiated_icount_s")), times(v.get("times_lcow")),
                hv.get("not_run") or fmt_stats(hv.get("kernel_to_negotiated_icount_s")),
                times(hv.get("times_lcow")),
                fmt_stats(v.get("qemu_start_to_negotiated_seen_wall_s"), "s")))
        for n, v in sorted(neg["kernels"].items()):
            if v.get("failed"):
                L.append("")
                L.append("%s: a boot failed: %s" % (n, v["failed"]))
        L.append("")
        L.append("Our guest's own work in that phase, Hyper-V-like: %s of instructions from kernel start "
                 "until the power-off the host asks for once the bridge is negotiated "
                 "(`insn-profile.sh --stack`: the icount figure above without the clock's jumps over "
                 "the guest's idle waits for the host; the shutdown is in it)." % fmt_stats(
                     neg.get("lcow_guest_work_hyperv_like_s")))
        L.append("")


def times(x):
    """A peer's median over ours."""
    return "-" if x is None else "%.1f×" % x


def demote(md):
    """Headings one level down so a bench's own report nests in ours."""
    return re.sub(r"^(#+) ", lambda m: "#" + m.group(1) + " ", md, flags=re.M)


def write_report(r, d, optimisations):
    res = r.get("results") or {}
    m = r.get("machine") or {}
    L = []
    L.append("# lcow-uvm benchmark report")
    L.append("")
    L.append("%s; git %s%s; %s run(s) each%s." % (
        r.get("date"), (r.get("git_revision") or "?")[:12], " (dirty)" if r.get("git_dirty") else "",
        r.get("runs"), " (short run: peers only when cached)" if r.get("short") else ""))
    L.append("Machine: %s, %s CPUs, host kernel %s, %s, /dev/kvm %s; load average at the end %s." % (
        m.get("cpu"), m.get("cpus"), m.get("host_kernel"), m.get("qemu"), m.get("kvm"),
        m.get("load_average_at_end")))
    L.append("")
    L.append("Figures are medians over the runs, ± half the spread (max − min), [n] runs. "
             "**icount** = guest time under `-icount shift=0,sleep=off` (1 ns per instruction: the "
             "same on every machine); **wall** = the same boots without icount (TCG, no KVM here), "
             "guest clock following the host clock. Timings never fail a benchmark.")
    L.append("")
    L.append("| benchmark | status | seconds |")
    L.append("|---|---|---|")
    for name, b in (r.get("benchmarks") or {}).items():
        L.append("| %s | %s%s | %s |" % (name, b.get("status"), (": " + b["why"]) if b.get("why") else "",
                                         "-" if b.get("seconds") is None else b["seconds"]))
    L.append("")

    # ---- the boot phases ------------------------------------------------
    L.append("## Boot phases")
    L.append("")
    ic, wall = phases_of(res, "icount"), phases_of(res, "wall")
    hv = phases_of(res, "hyperv_like_icount")
    peers, not_run = peers_of(res.get("boot") or {})
    peer_ic = {n: s for n, s, _ in peers}
    if not ic and not wall:
        L.append("Not measured: the phases benchmark did not run or failed.")
        L.append("")
    else:
        ph = res["phases"]
        L.append("One VM per run, booted as Hyper-V does (`%s`). Every milestone is a real "
                 "reading on the guest's reset-based clock (how: below). The peers were measured, in "
                 "the same run, for the kernel phase only, booted by SeaBIOS `-kernel` with the same "
                 "initrd (next section), under icount on the TSC clock; our kernel in that same set-up "
                 "is the first peer column." % ph.get("machine"))
        L.append("")
        others = [n for n, _, _ in peers]
        head = "| phase | icount | icount, Hyper-V-like | wall |" + "".join(
            " %s%s |" % (n, " (same set-up as the peers)" if n == "lcow" else "") for n in others)
        L.append(head)
        L.append("|---|---|---|---|" + "---|" * len(others))
        names = [n for n, _ in (ic or wall)]
        icd, wd, hvd = dict(ic), dict(wall), dict(hv)
        paced = set(ph.get("host_paced_phases") or [])
        for n in names:
            row = "| %s%s | %s | %s | %s |" % (n, " †" if n in paced else "", fmt_stats(icd.get(n)),
                                              fmt_stats(hvd.get(n)), fmt_stats(wd.get(n)))
            for o in others:
                row += (" %s |" % fmt_stats(peer_ic.get(o))) if n == "kernel start → /init" else " |"
            L.append(row)
        if paced:
            L.append("")
            L.append("† host-paced: the guest waits for the host (entropy and log connections, the dial, "
                     "lcowctl's requests). Under icount (sleep=off) the guest clock then jumps from timer "
                     "deadline to timer deadline for as long as the host takes, so the icount figure is host "
                     "latency, not guest work: read the wall figure. The other phases are pure guest work "
                     "and their icount figures repeat exactly.")
        L.append("")
        hvp = ph.get("hyperv_like_icount") or {}
        L.append("Hyper-V-like: icount boots with `%s`. Under TCG the kernel has to calibrate the local "
                 "APIC timer (100 ms of polling against the TSC, then 100 ms verifying it); Hyper-V hands "
                 "the guest the frequency and KVM the TSC deadline timer, so neither calibrates. A "
                 "stand-in for the host, not in the product." % (hvp.get("kernel_args") or "noapictimer"))
        L.append("")
        L.append("**Kernel start → NegotiateProtocol answered** (icount; the target is ≤ 50 ms): %s as "
                 "is, %s Hyper-V-like." % (
                     fmt_stats((ph.get("icount") or {}).get("kernel_start_to_negotiated_s")),
                     fmt_stats(hvp.get("kernel_start_to_negotiated_s"))))
        L.append("")
        lean = []
        for label, m in (("q35", res.get("boot") or {}), ("microvm", (res.get("boot") or {}).get("microvm") or {})):
            lc = ((m.get("negotiate") or {}).get("kernels") or {}).get("lcow") or {}
            if lc.get("kernel_to_negotiated_icount_s"):
                lean.append("%s: %s as is, %s Hyper-V-like (`%s`)" % (
                    label, fmt_stats(lc.get("kernel_to_negotiated_icount_s")),
                    fmt_stats((lc.get("hyperv_like") or {}).get("kernel_to_negotiated_icount_s")),
                    (lc.get("hyperv_like") or {}).get("args") or "-"))
        if lean:
            L.append("The same phase booted by SeaBIOS `-kernel` (the peers' set-up, below; no firmware "
                     "or loader in it, no pmem device): %s." % "; ".join(lean))
            L.append("")
        ratios = []
        for label, m in (("q35", res.get("boot") or {}), ("microvm", (res.get("boot") or {}).get("microvm") or {})):
            deb = ((m.get("negotiate") or {}).get("kernels") or {}).get("debian-cloud") or {}
            if deb.get("times_lcow") is not None:
                hv = (deb.get("hyperv_like") or {}).get("times_lcow")
                ratios.append("%s: %s as is, %s" % (
                    label, times(deb.get("times_lcow")),
                    "%s Hyper-V-like" % times(hv) if hv is not None
                    else "the peer cannot boot Hyper-V-like there"))
        if ratios:
            L.append("The ≥ 10× target, on the same phase against Debian's stock kernel (the peers' "
                     "set-up, SeaBIOS `-kernel`, below): %s." % "; ".join(ratios))
            L.append("")
        hw = (ph.get("wall") or {}).get("host_wall_s") or {}
        hi = (ph.get("icount") or {}).get("host_wall_s") or {}
        L.append("Host wall clock from QEMU's launch until the host saw the negotiated bridge: %s "
                 "(icount runs: %s); the first output byte: %s (icount runs: %s)." % (
                     fmt_stats(hw.get("qemu_launch_to_negotiated_seen"), "s"),
                     fmt_stats(hi.get("qemu_launch_to_negotiated_seen"), "s"),
                     fmt_stats(hw.get("qemu_launch_to_first_byte_seen"), "s"),
                     fmt_stats(hi.get("qemu_launch_to_first_byte_seen"), "s")))
        L.append("")
        L.append("![boot phases](boot-phases.svg)")
        L.append("")
        L.append("How each milestone is read:")
        L.append("")
        for k, v in (ph.get("how") or {}).items():
            L.append("- **%s**: %s" % (k, v))
        L.append("")

    # ---- peers ------------------------------------------------------------
    boot = res.get("boot") or {}
    L.append("## Peers (same run, same machine)")
    L.append("")
    if not peers:
        L.append("Not measured: the boot benchmark did not run or failed.")
        L.append("")
    else:
        peer_tables(L, "q35", boot, not_run)
        micro = boot.get("microvm") or {}
        if micro.get("boot"):
            peer_tables(L, "microvm: no PCI bus, no option ROMs, small ACPI tables (closer to a "
                        "generation 2 VM, whose devices are on VMBus)", micro, not_run)
        L.append("Hyper-V-like: the local APIC timer's frequency known, as Hyper-V hands it over. Under "
                 "TCG the kernel otherwise calibrates that timer (100 ms polling against the TSC, and "
                 "where the PIT ticks, on q35, 100 ms verifying it); on Hyper-V it reads the frequency "
                 "from the hypervisor, and KVM guests use the TSC deadline timer, which TCG does not "
                 "emulate. On q35 every kernel boots with `noapictimer` (the PIT ticks instead); microvm "
                 "has no PIT interrupt, so there only this project's kernel can, with "
                 "`lapic_timer_freq=` (kernel-patches/0010). × ours: the peer's median over ours.")
        L.append("")
        L.append("TSC clock: the printk time of /init less the offset the kernel logs when it marks "
                 "sched_clock stable (printk time = raw sched_clock, which counts the TSC from "
                 "tsc_early_init, + that offset; the early printk clock follows jiffies-based "
                 "timekeeping, which under TCG runs ahead or stands still). The agent's CLOCK_BOOTTIME "
                 "is put on the same clock with that line: it loses the time the kernel spends "
                 "without timer ticks before the TSC clocksource is switched in.")
        L.append("")

    # ---- footprint ----------------------------------------------------------
    L.append("## Footprint")
    L.append("")
    fp = ((res.get("phases") or {}).get("footprint") or {})
    sizes = fp.get("sizes_bytes") or boot.get("footprint_bytes") or {}
    if sizes:
        L.append("| file | bytes | |")
        L.append("|---|---|---|")
        for k, v in sizes.items():
            L.append("| %s | %s | %s |" % (k, v if v is not None else "-", human_bytes(v)))
        L.append("")
    else:
        L.append("Sizes: not measured.")
        L.append("")
    ab = fp.get("after_boot")
    if ab:
        L.append("After boot (a boot of its own, read through `lcowctl exec --uvm` once the bridge "
                 "is negotiated), %d kB of guest RAM: **MemTotal − MemAvailable = %d kB** "
                 "(%.1f MiB); agent (/bin/gcs) VmRSS %d kB (VmHWM %d kB); init VmRSS %d kB." % (
                     ab["mem_total_kb"], ab["mem_used_kb"], ab["mem_used_kb"] / 1024.0,
                     ab["agent_vmrss_kb"], ab["agent_vmhwm_kb"], ab["init_vmrss_kb"]))
        if "ram_kb" in ab:
            # MemTotal leaves out what the kernel reserved for itself (its
            # image, the page structures) and the firmware's: count from
            # the RAM the VM was given.
            L.append("")
            L.append("Of the VM's %d kB, **%d kB are not available** to containers (RAM − "
                     "MemAvailable: the firmware's, the kernel's image and page structures, "
                     "and the above)." % (ab["ram_kb"], ab["mem_unavailable_kb"]))
    else:
        L.append("Memory after boot: not measured (the phases benchmark did not run).")
    L.append("")

    # ---- optimisations ------------------------------------------------------
    L.append("## Boot-time optimisations")
    L.append("")
    if optimisations and os.path.exists(optimisations):
        with open(optimisations, encoding="utf-8") as f:
            L.append(demote(demote(f.read().strip())))
    else:
        L.append("No optimisations.md in qemu-tests/bench.")
    L.append("")

    # ---- every benchmark's own report ---------------------------------------
    L.append("## Each benchmark")
    L.append("")
    for name, b in (r.get("benchmarks") or {}).items():
        p = os.path.join(d, name + ".md")
        if b.get("status") == "passed" and os.path.exists(p):
            with open(p, encoding="utf-8") as f:
                L.append(demote(demote(f.read().strip())))
        else:
            L.append("### %s" % name)
            L.append("")
            L.append("%s%s." % (b.get("status"), (": " + b["why"]) if b.get("why") else ""))
        L.append("")
    return "\n".join(L) + "\n"


def svg_chart(r):
    """Two panels: the full boot timeline of our image (icount and wall rows,
    one scale per row's own total), and the kernel-only phase for our kernel
    and the peers (one scale)."""
    res = r.get("results") or {}
    W, left, right = 960, 200, 30
    plot = W - left - right
    out = []
    y = 40
    title = "lcow-uvm boot phases — %s, git %s" % (r.get("date", "?"), (r.get("git_revision") or "?")[:12])
    out.append('<text x="%d" y="24" font-size="16" font-weight="bold">%s</text>' % (left - 190, html.escape(title)))

    rows = []
    paced = set(((res.get("phases") or {}).get("host_paced_phases")) or [])
    for clock, label in (("icount", "lcow, icount"), ("hyperv_like_icount", "icount, Hyper-V-like"),
                         ("wall", "lcow, wall (TCG)")):
        # Under icount the host-paced phases measure host latency (see the
        # report), so that bar stops where they begin.
        ph = [(n, s) for n, s in phases_of(res, clock)
              if n != TOTAL_PHASE and not (clock != "wall" and n in paced)]
        if ph:
            rows.append((label, ph))
    names = []
    for _, ph in rows:
        for n, _ in ph:
            if n not in names:
                names.append(n)
    y += 10
    out.append('<text x="%d" y="%d" font-size="13" font-weight="bold">Boot phases of our image (medians; each bar on '
               'its own scale; icount: the guest-only phases, up to /init)</text>' % (left - 190, y))
    y += 14
    if not rows:
        out.append('<text x="%d" y="%d" font-size="12">not measured (phases benchmark missing)</text>' % (left, y + 14))
        y += 30
    for label, ph in rows:
        vals = [(n, (s or {}).get("median")) for n, s in ph]
        total = sum(v for _, v in vals if v is not None) or 1.0
        out.append('<text x="%d" y="%d" font-size="12" text-anchor="end">%s</text>' % (left - 8, y + 17, html.escape(label)))
        x = float(left)
        for n, v in vals:
            if v is None:
                continue
            w = plot * v / total
            c = COLOURS[names.index(n) % len(COLOURS)]
            out.append('<rect x="%.1f" y="%d" width="%.1f" height="24" fill="%s"><title>%s: %s</title></rect>'
                       % (x, y, max(w, 0.5), c, html.escape(n), ms(v)))
            if w > 48:
                out.append('<text x="%.1f" y="%d" font-size="10" fill="white" text-anchor="middle">%s</text>'
                           % (x + w / 2, y + 16, "%.0f ms" % (v * 1000) if v < 10 else "%.1f s" % v))
            x += w
        out.append('<text x="%d" y="%d" font-size="11" text-anchor="end">total %s</text>' % (W - right, y + 38, ms(total)))
        y += 46
    # legend
    lx, ly = left, y
    for i, n in enumerate(names):
        out.append('<rect x="%d" y="%d" width="12" height="12" fill="%s"/>' % (lx, ly + i * 18, COLOURS[i % len(COLOURS)]))
        out.append('<text x="%d" y="%d" font-size="11">%s</text>' % (lx + 16, ly + i * 18 + 10, html.escape(n)))
    y = ly + len(names) * 18 + 24

    # kernel-only panel
    peers, not_run = peers_of(res.get("boot") or {})
    out.append('<text x="%d" y="%d" font-size="13" font-weight="bold">Kernel start → /init, same machine, icount '
               '(our kernel and the peers, same initrd; one scale)</text>' % (left - 190, y))
    y += 14
    vals = [(n, (s or {}).get("median")) for n, s, _ in peers]
    top = max([v for _, v in vals if v is not None] or [1.0])
    for n, v in vals:
        out.append('<text x="%d" y="%d" font-size="12" text-anchor="end">%s</text>' % (left - 8, y + 15, html.escape(n)))
        if v is None:
            out.append('<text x="%d" y="%d" font-size="11">not measured</text>' % (left, y + 15))
        else:
            w = plot * 0.85 * v / top
            out.append('<rect x="%d" y="%d" width="%.1f" height="20" fill="%s"><title>%s: %s</title></rect>'
                       % (left, y, max(w, 0.5), COLOURS[3] if n == "lcow" else "#aec7e8", html.escape(n), ms(v)))
            out.append('<text x="%.1f" y="%d" font-size="11">%s</text>' % (left + w + 6, y + 15, ms(v)))
        y += 28
    for n, why in sorted(not_run.items()):
        out.append('<text x="%d" y="%d" font-size="12" text-anchor="end">%s</text>' % (left - 8, y + 15, html.escape(n)))
        out.append('<text x="%d" y="%d" font-size="11" fill="#555">%s</text>' % (left, y + 15, html.escape(why[:120])))
        y += 28
    H = y + 10
    head = ('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
            'font-family="DejaVu Sans, Helvetica, Arial, sans-serif">' % (W, H, W, H))
    return "\n".join([head, '<rect width="100%" height="100%" fill="white"/>'] + out + ["</svg>"]) + "\n"


def write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--results", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--optimisations")
    a = ap.parse_args()
    try:
        with open(a.results, encoding="utf-8") as f:
            r = json.load(f)
    except (OSError, ValueError) as e:
        print("report.py: cannot read %s: %s" % (a.results, e), file=sys.stderr)
        return 1
    if not isinstance(r, dict):
        print("report.py: %s: not a JSON object" % a.results, file=sys.stderr)
        return 1
    write_atomic(os.path.join(a.dir, "report.md"), write_report(r, a.dir, a.optimisations))
    write_atomic(os.path.join(a.dir, "boot-phases.svg"), svg_chart(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
