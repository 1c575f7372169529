"""Fleet load test: N bedside streams -> a real mosquitto on loopback -> ``ecgedge station``.

Each bed is a *light publisher*, not a full runtime (100 runtimes with their models do not fit
the test box): one paho client per bed, with the runtime's last will, publishing exactly the
messages :class:`edge_runtime.sinks.mqtt.MqttSink` publishes, at real time: the retained
``status`` every 2 s (the runtime's status record + ``online``), a ``windows`` record every
2 s (QoS 0), and alarms on ``alerts`` (QoS 1): an onset every ~``alarm_every_s`` per bed
(random, seeded), its end ``alarm_len_s`` later, with the runtime's alert record shape and
id scheme. The publisher logs the wall time of each alert publish; the station journals the
wall time it received each (``station_alert``), so the check is per id: none lost, none
duplicated, latency publish -> station received. Broker and station CPU and RSS come from
/proc. Writes docs/results/fleet.json and docs/figures/fleet.png.

    python bench/fleet.py [--beds 100] [--minutes 10]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import paho.mqtt.client as mqtt  # noqa: E402

from edge_runtime.provenance import host  # noqa: E402
from edge_runtime.sinks.journal import read_journal  # noqa: E402

TYPES = [("tachycardia", "warning"), ("pvc_rate", "advisory"), ("lead_off", "technical"),
         ("vt", "crisis"), ("bradycardia", "warning")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_stats(pid: int) -> tuple[float, float]:
    """(CPU seconds, RSS MB) of ``pid`` from /proc."""
    parts = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")
    rss = next(int(ln.split()[1]) for ln in Path(f"/proc/{pid}/status").read_text()
               .splitlines() if ln.startswith("VmRSS")) / 1024
    return cpu, rss


class Bed:
    """One bedside's MQTT traffic, as the runtime's MQTT sink sends it."""

    def __init__(self, name: str, port: int, rng: random.Random, args, log: list) -> None:
        self.name, self.rng, self.args, self.log = name, rng, args, log
        self.base = f"ecgedge/{name}"
        self.c = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
                             client_id=f"ecgedge-{name}")
        self.c.will_set(f"{self.base}/status", json.dumps(
            {"device_id": name, "online": False, "reason": "connection lost"}), 1, True)
        self.c.connect("127.0.0.1", port, keepalive=30)
        self.c.loop_start()
        self.c.publish(f"{self.base}/status", json.dumps({"device_id": name, "online": True}),
                       1, True)
        self.seq = 0
        self.sent: dict[str, list[int]] = {}  # topic leaf -> [messages, payload bytes]
        self.t0 = time.time()
        self.next_status = self.t0 + rng.uniform(0, 2)
        self.next_alarm = self.t0 + rng.expovariate(1 / args.alarm_every_s)
        self.active: list[tuple[float, dict]] = []
        self.beats = 0

    def pub(self, leaf: str, rec: dict, qos: int, retain: bool = False):
        body = json.dumps(rec)
        n = self.sent.setdefault(leaf, [0, 0])
        n[0] += 1
        n[1] += len(body)
        return self.c.publish(f"{self.base}/{leaf}", body, qos, retain)

    def _alert(self, rec: dict) -> None:
        self.log.append((rec["id"], rec["action"], time.time()))  # raised: before publishing
        return self.pub("alerts", rec, 1)

    def tick(self, now: float) -> None:
        t = now - self.t0
        if now >= self.next_status:
            self.next_status += 2.0
            self.beats += 2 + self.rng.randint(0, 1)
            st = {"event": "status", "time_s": round(t, 2), "device_id": self.name,
                  "hr_bpm": round(self.rng.uniform(55, 130), 1), "beats": self.beats,
                  "beats_per_class": {"N": self.beats}, "gaps": 0, "lost_samples": 0,
                  "active_alerts": sorted(a["type"] for _, a in self.active),
                  "lead_off": [], "online": True}
            self.pub("status", st, 1, True)
            self.pub("windows", {
                "event": "window", "start_s": round(t - 10, 3), "end_s": round(t, 3),
                "task": "multilabel", "probs": {"NORM": 0.9, "AF": 0.02, "MI": 0.03},
                "model": "hyp.int8.onnx:findings6@00000000"}, 0)
        if now >= self.next_alarm:
            self.next_alarm = now + self.rng.expovariate(1 / self.args.alarm_every_s)
            self.seq += 1
            typ, sev = self.rng.choice(TYPES)
            a = {"event": "alert", "action": "onset", "time_s": round(t, 4),
                 "id": f"{self.name}-{self.seq:05d}-{typ}", "type": typ, "severity": sev,
                 "start_s": round(t, 4), "end_s": None, "raised_s": round(t, 4),
                 "evidence": {"hr_bpm": 131.0}, "device_id": self.name, "strip": None}
            self._alert(a)
            self.active.append((now + self.args.alarm_len_s, a))
        for end, a in [x for x in self.active if x[0] <= now]:
            self.active.remove((end, a))
            self._alert({**a, "action": "end", "time_s": round(t, 4), "end_s": round(t, 4)})

    def close(self) -> None:
        self.c.publish(f"{self.base}/status", json.dumps(
            {"device_id": self.name, "online": False, "reason": "shutdown"}), 1, True
        ).wait_for_publish(5)
        self.c.disconnect()
        self.c.loop_stop()


def main() -> int:
    ap = argparse.ArgumentParser(prog="ecgedge bench fleet",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("--beds", type=int, default=100, help="simulated beds (default 100)")
    ap.add_argument("--minutes", type=float, default=10.0,
                    help="length of the run in minutes (default 10)")
    ap.add_argument("--alarm-every-s", type=float, default=60.0,
                    help="mean seconds between alarm onsets per bed (default 60)")
    ap.add_argument("--alarm-len-s", type=float, default=20.0,
                    help="seconds from an alarm's onset to its end (default 20)")
    ap.add_argument("--seed", type=int, default=0, help="random seed of the schedule (default 0)")
    ap.add_argument("--out", default=str(REPO / "docs" / "results" / "fleet.json"),
                    help="JSON to write (default docs/results/fleet.json)")
    ap.add_argument("--plot", default=str(REPO / "docs" / "figures" / "fleet.png"),
                    help="PNG to write (default docs/figures/fleet.png)")
    args = ap.parse_args()
    mosq = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not os.path.exists(mosq):
        raise SystemExit("fleet: needs mosquitto (apt-get install -y mosquitto)")
    tmp = Path(tempfile.mkdtemp(prefix="ecgedge-fleet-"))
    port = free_port()
    conf = tmp / "mosquitto.conf"
    conf.write_text(("user root\n" if os.geteuid() == 0 else "")
                    + f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                    "max_queued_messages 10000\n")
    broker = subprocess.Popen([mosq, "-c", str(conf)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    journal = tmp / "station.jsonl"
    web = free_port()
    station = subprocess.Popen(
        [sys.executable, "-m", "edge_runtime", "station", "--mqtt", f"127.0.0.1:{port}",
         "--web", f"127.0.0.1:{web}", "--journal", str(journal), "--quiet"],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    time.sleep(2.0)
    sse = subprocess.Popen(["curl", "-sN", f"http://127.0.0.1:{web}/api/events"],
                           stdout=subprocess.DEVNULL)  # one page open all along
    rng = random.Random(args.seed)
    log: list[tuple[str, str, float]] = []
    beds = [Bed(f"bed-{i:03d}", port, random.Random(rng.random()), args, log)
            for i in range(args.beds)]
    samples = []  # (t, broker cpu, broker rss, station cpu, station rss)
    t_start = time.time()
    end = t_start + args.minutes * 60
    next_sample = t_start
    print(f"fleet: {args.beds} beds for {args.minutes:g} min", flush=True)
    stop = threading.Event()
    try:
        while time.time() < end and not stop.is_set():
            now = time.time()
            for b in beds:
                b.tick(now)
            if now >= next_sample:
                next_sample += 10
                samples.append((now - t_start, *proc_stats(broker.pid),
                                *proc_stats(station.pid)))
            time.sleep(0.05)
        for b in beds:  # end what is still active, so every onset has its end
            for _, a in list(b.active):
                b._alert({**a, "action": "end", "end_s": a["start_s"]})
            b.active.clear()
        time.sleep(3.0)
        samples.append((time.time() - t_start, *proc_stats(broker.pid),
                        *proc_stats(station.pid)))
        stats = {"broker": proc_stats(broker.pid), "station": proc_stats(station.pid)}
        for b in beds:
            b.close()
    finally:
        sse.terminate()
        station.send_signal(signal.SIGTERM)
        station.wait(30)
        broker.send_signal(signal.SIGTERM)
        broker.wait(10)
    recs, bad = read_journal(journal)
    got: dict[tuple[str, str], list[float]] = {}
    for r in recs:
        if r.get("event") == "station_alert":
            got.setdefault((r["id"], r["action"]), []).append(r["received"])
    sent = {(i, a): t for i, a, t in log}
    lost = [k for k in sent if k not in got]
    dup = [k for k, v in got.items() if len(v) > 1]
    extra = [k for k in got if k not in sent]
    lat = np.array([got[k][0] - t for k, t in sent.items() if k in got]) * 1000
    dur = samples[-1][0]
    cpu_pct = {"broker": round(100 * stats["broker"][0] / dur, 2),
               "station": round(100 * stats["station"][0] / dur, 2)}
    per_leaf: dict[str, list[int]] = {}
    for b in beds:
        for leaf, (n, nb) in b.sent.items():
            t = per_leaf.setdefault(leaf, [0, 0])
            t[0] += n
            t[1] += nb
    out = {
        "beds": args.beds, "duration_s": round(dur, 1), "publisher": "light (runtime's exact "
        "MQTT messages, one paho client per bed, real time)",
        "alerts_sent": len(sent), "alerts_received": sum(len(v) for v in got.values()),
        "lost": len(lost), "duplicated": len(dup), "unexpected": len(extra),
        "latency_ms": {"p50": round(float(np.percentile(lat, 50)), 2),
                       "p99": round(float(np.percentile(lat, 99)), 2),
                       "max": round(float(lat.max()), 2)},
        "cpu_pct_of_one_core": cpu_pct,
        "rss_mb": {"broker": round(stats["broker"][1], 1), "station": round(stats["station"][1],
                                                                           1)},
        # measured: what one bed sent per second, by topic (payload bytes, no MQTT headers)
        "per_bed_per_s": {leaf: {"messages": round(n / dur / args.beds, 4),
                                 "bytes": round(nb / dur / args.beds, 1),
                                 "bytes_per_message": round(nb / n, 1)}
                          for leaf, (n, nb) in sorted(per_leaf.items())},
        "journal_bad_lines": bad,
        "command": "python bench/fleet.py " + " ".join(sys.argv[1:]), "host": host(),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out))
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        s = np.array(samples)
        fig, ax = plt.subplots(1, 2, figsize=(10, 3.5))
        ax[0].hist(lat, bins=50, color="#36c")
        ax[0].set_xlabel("alert publish -> station received (ms)")
        ax[0].set_ylabel("alerts")
        ax[0].set_title(f"{args.beds} beds, {dur / 60:.0f} min: p50 {out['latency_ms']['p50']}"
                        f" ms, p99 {out['latency_ms']['p99']} ms", fontsize=9)
        ax[1].plot(s[:, 0] / 60, s[:, 2], label="broker RSS MB")
        ax[1].plot(s[:, 0] / 60, s[:, 4], label="station RSS MB")
        ax[1].set_xlabel("minutes")
        ax[1].legend(fontsize=8)
        ax[1].set_title(f"CPU: broker {cpu_pct['broker']} %, station {cpu_pct['station']} %",
                        fontsize=9)
        fig.tight_layout()
        Path(args.plot).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(args.plot, dpi=90)
    except ImportError:
        print("fleet: no matplotlib, no plot", file=sys.stderr)
    shutil.rmtree(tmp, ignore_errors=True)
    return 0 if not lost and not dup else 1


if __name__ == "__main__":
    sys.exit(main())
