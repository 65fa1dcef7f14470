#!/usr/bin/env python3
"""The table of scripts/bench.sh: reads its results in --out (parse.txt, write.tsv, query-*.md),
writes --out/table.md (only the --steps of this run: results of earlier runs left in --out are not
reported under this run's date and commit) and puts it into --md between the markers below, replacing what was there
(or after the first heading when the markers are missing). Targets are issue 12's:
  write, embedded: >= 2x influxd 1.6.7's lines/s and >= 2x cheaper in server CPU per line;
  write through influxgate to a store: >= 0.90x the throughput, <= 1.10x the CPU of writing straight;
  line-protocol parse: >= 1 GB/s per core; every query shape: median <= influxd's (ratio <= 1.00).
"""
import argparse, datetime, os, re, statistics, sys

BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
TITLES = {
    "embedded": "influxgate on the embedded store",
    "vm": "influxgate on VictoriaMetrics",
    "ch": "influxgate on ClickHouse 18.16 (one server)",
}
PEERS = {"embedded": "influxd 1.6.7", "vm": "VictoriaMetrics `/write` straight", "ch": "ClickHouse RowBinary INSERT straight"}


def met(ok):
    return "yes" if ok else "**no**"


def rate(side):
    """Lines/s (1.x's points/s) and the field values/s of TSBS cpu lines (10 a line)."""
    return f"{side['rate'] / 1e3:.0f} k lines/s ({side['rate'] * 10 / 1e6:.2f} M values/s)"


def write_rows(out, backend):
    """The write rows of BACKEND from write.tsv: medians over rounds of each side."""
    path = os.path.join(out, "write.tsv")
    if not os.path.exists(path):
        return []
    sides = {}
    for line in open(path):
        f = line.rstrip("\n").split("\t")
        if len(f) != 8 or f[0] != backend:
            continue
        lines, el, cpu, store, lg = int(f[3]), float(f[4]), float(f[5]), float(f[6]), float(f[7])
        s = sides.setdefault("gate" if f[1] == "influxgate" else "peer", {"name": f[1], "rate": [], "cpu": [], "store": [], "lg": []})
        s["rate"].append(lines / el)
        s["cpu"].append(cpu * 1e6 / lines)
        s["store"].append(store * 1e6 / lines)
        s["lg"].append(lg / el)
    if "gate" not in sides or "peer" not in sides:
        return []
    g, p = ({k: (statistics.median(v) if isinstance(v, list) else v) for k, v in sides[x].items()} for x in ("gate", "peer"))
    n = len(sides["gate"]["rate"])
    tput = g["rate"] / p["rate"]
    store = f" (store {g['store']:.1f})" if backend != "embedded" else ""
    lg = f"load generator, making the bodies included: {g['lg']:.2f} / {p['lg']:.2f} of a core"
    if backend == "embedded":
        cheaper = p["cpu"] / g["cpu"]
        return [
            f"| write: lines/s (median of {n}) | {rate(g)} | {rate(p)} | {tput:.2f}× | ≥ 2× | {met(tput >= 2)} |",
            f"| write: server CPU per line | {g['cpu']:.1f} µs | {p['cpu']:.1f} µs | {cheaper:.2f}× cheaper ({lg}) | ≥ 2× cheaper | {met(cheaper >= 2)} |",
        ]
    more = g["cpu"] / p["cpu"]
    return [
        f"| write: lines/s (median of {n}) | {rate(g)} | {rate(p)} | {tput:.2f}× | ≥ 0.90× | {met(tput >= 0.9)} |",
        f"| write: CPU per line, influxgate + store | {g['cpu']:.1f} µs{store} | {p['cpu']:.1f} µs | {more:.2f}× the CPU ({lg}) | ≤ 1.10× | {met(more <= 1.1)} |",
    ]


def query_table(path):
    """tsbs_queries' table: {server: {shape: (median, cpu)}}, ratios {server: {shape: r}}, answers."""
    rows = [l.strip() for l in open(path) if l.startswith("| ")]
    if len(rows) < 2:
        return None
    head = [c.strip() for c in rows[0].strip("|").split("|")]
    servers = [h.split(" median")[0] for h in head[1:] if "median / p90" in h]
    cells, ratios, same = {}, {}, {}
    for r in rows[1:]:
        c = [x.strip() for x in r.strip("|").split("|")]
        if len(c) != len(head) or c[0] == "shape":
            continue
        shape, n = c[0], len(servers)
        for i, s in enumerate(servers):
            m = re.match(r"([\d.]+|NaN) / [\d.NaN]+(?: \(([\d.]+)\))?", c[1 + i])
            cells.setdefault(s, {})[shape] = (m.group(1), m.group(2)) if m else ("?", None)
        others = [s for s in servers if s != "influxd"]
        for i, s in enumerate(others):
            ratios.setdefault(s, {})[shape] = c[1 + n + i]
            same.setdefault(s, {})[shape] = c[1 + n + len(others) + i]
    return servers, cells, ratios, same


def query_rows(out, backend, sizes):
    rows = []
    for spec in sizes:
        hh, runs = spec.split(":")
        hosts, hours = hh.split("x")
        path = os.path.join(out, f"query-{hosts}x{hours}.md")
        t = query_table(path) if os.path.exists(path) else None
        if not t or backend not in t[1]:
            continue
        _, cells, ratios, same = t
        size = f"{hosts}×{hours} h ({int(hosts) * int(hours) * 360 / 1e3:.0f}k lines)"
        for shape, (med, cpu) in cells[backend].items():
            imed, icpu = cells["influxd"][shape]
            r = ratios[backend][shape]
            try:
                ok = float(r) <= 1.0
            except ValueError:
                ok = False
            c = f" ({cpu})" if cpu else ""
            ic = f" ({icpu})" if icpu else ""
            rows.append(f"| {size}, {shape} | {med} ms{c} | {imed} ms{ic} | {r} | ≤ 1.00 | {met(ok)} | {same[backend][shape]} |")
    return rows


def parse_row(out):
    path = os.path.join(out, "parse.txt")
    if not os.path.exists(path):
        return None
    for line in open(path):
        m = re.match(r"cpu-time influxgate_borrowed\s+([\d.]+) MB/s\s+(\d+) lines/s", line)
        if m:
            mb = float(m.group(1))
            return f"| line-protocol parse per core (CPU time, borrowed parser) | {mb:.0f} MB/s, {int(m.group(2))/1e6:.2f} M lines/s | ≥ 1000 MB/s | {met(mb >= 1000)} |"
    return None


def size_text(spec):
    hh, runs = spec.split(":")
    hosts, hours = hh.split("x")
    return f"{hosts} hosts × {hours} h ({runs} runs a shape)"


def table(a):
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    sizes = a.sizes.split()
    out = [
        BEGIN,
        f"Generated by `{a.command}` on {now}, git {a.commit}; {a.machine}; peer {a.influxd}.",
        "Medians; query cells are median ms (server CPU ms per query, influxgate and the store behind it "
        "together); ratio = influxgate / peer (write: throughput and CPU as labelled; queries: < 1 is faster). "
        f"Sizes: {', '.join(size_text(s) for s in sizes)}; "
        "writes: pregenerated bodies of 5000 lines over 4 connections, interleaved rounds. "
        "Flame graphs and `perf report` text of each backend's slowest shape (largest size): "
        "`target/bench-results/flame-*`.",
        "",
    ]
    steps = a.steps.split()
    pr = parse_row(a.out) if "parse" in steps else None
    if pr:
        out += ["| all backends | figure | target | met? |", "|---|---|---|---|", pr, ""]
    for b in a.backends.split():
        out += [f"**{TITLES.get(b, b)}** (peer: {PEERS.get(b, b)}, same run)", "",
                "| what | influxgate | peer | ratio | target | met? | answers = influxd |",
                "|---|---|---|---|---|---|---|"]
        if "write" in steps:
            out += [r + " |" for r in write_rows(a.out, b)]
        if "query" in steps:
            out += query_rows(a.out, b, sizes)
        out.append("")
    out.append(END)
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser()
    for k in ("out", "md", "backends", "sizes", "steps", "command", "commit", "machine", "influxd"):
        ap.add_argument("--" + k, required=True)
    a = ap.parse_args()
    t = table(a)
    open(os.path.join(a.out, "table.md"), "w").write(t)
    sys.stdout.write(t)
    md = open(a.md).read()
    if BEGIN in md and END in md:
        md = md[: md.index(BEGIN)] + t + md[md.index(END) + len(END) + 1 :]
    else:
        i = md.find("\n", md.find("# ")) + 1
        md = md[:i] + "\n" + t + md[i:]
    open(a.md, "w").write(md)


if __name__ == "__main__":
    main()
