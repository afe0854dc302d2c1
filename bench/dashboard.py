"""The Grafana dashboard's panels, drawn after a load run (Grafana does not install here).

    .venv/bin/python bench/dashboard.py [--minutes 8] [--port-base 8800]   # 6 ports

Starts, on a throwaway database (`gateway_bench`): the standalone simulators, the gateway
(gunicorn, two workers, multiprocess metrics), an operator, a scheduler and a webhooks worker
(each with its own metrics port; the merchant's webhook endpoint is down), and a real
Prometheus (Debian's `prometheus`) scraping them every 2 s with the alert rules loaded. Then
merchants pay for --minutes: collections on all three operators with a mix of test numbers
(some decline, some fail, one is flaky); for the middle 30% the simulators are stopped, as if
the operators were down. Afterwards every target of every panel of
deploy/grafana/dashboards/gateway.json is asked of Prometheus as it is written (query_range
over the run), but for the rate windows, shortened (--window) so that minutes of load show
more than one smoothed line; the panels are drawn with matplotlib into docs/dashboard.png,
with the alerts that fired. Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests
import throughput  # bench/throughput.py: the database and process helpers

ROOT = Path(__file__).resolve().parents[1]
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "gateway.json"
OUTPUT = ROOT / "docs" / "dashboard.png"
# Most pay, some are refused by the payer or the operator, one is answered 500 once.
NUMBERS = {
    "mtn": ["260961234567"] * 6 + ["260960000002", "260960000005", "260960000008"],
    "airtel": ["260971234567"] * 6 + ["260970000002", "260970000005", "260970000008"],
    "zamtel": ["260951234567"] * 6 + ["260950000002", "260950000005"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=8)
    parser.add_argument("--rate", type=float, default=4, help="payments per second")
    parser.add_argument("--window", default="1m", help="replaces the [5m] and [15m] windows")
    parser.add_argument("--port-base", type=int, default=0, help="5 ports from here; else free")
    args = parser.parse_args()
    ports = (
        [args.port_base + offset for offset in range(6)]
        if args.port_base
        else [throughput.free_port() for _ in range(6)]
    )
    web_port, simulator_port, worker_port, scheduler_port, webhooks_port, prometheus_port = ports
    work = Path(tempfile.mkdtemp(prefix="dashboard-"))
    admin, database_url = throughput.bench_database()
    processes = throughput.Processes(work)
    try:
        throughput.setup_django(database_url)
        from django.core.management import call_command
        from django.db import connections

        call_command("migrate", verbosity=0)
        secret = throughput.make_tenants(1, "dashboard")[0]
        connections.close_all()
        web = f"http://127.0.0.1:{web_port}"
        simulators = f"http://127.0.0.1:{simulator_port}/sandbox"
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "LOG_LEVEL": "WARNING",
            "RATE_LIMIT_READ": throughput.HUGE_RATE,
            "RATE_LIMIT_WRITE": throughput.HUGE_RATE,
            "PUBLIC_BASE_URL": web,
            "MTN_TEST_CALLBACK_HOST": "127.0.0.1",
            "MTN_TEST_BASE_URL": f"{simulators}/mtn",
            "AIRTEL_TEST_BASE_URL": f"{simulators}/airtel",
            "ZAMTEL_TEST_BASE_URL": f"{simulators}/zamtel",
            "AIRTEL_TEST_ENQUIRY_DELAY_SECONDS": "2",
            "PAYMENT_POLL_SCHEDULE_SECONDS": "3,5,10",
            "PAYMENT_POLLER_INTERVAL_SECONDS": "1",
            "WORKER_METRICS_ADDRESS": "127.0.0.1",
            # A merchant endpoint nobody listens on: its deliveries fail, then go dead.
            "WEBHOOK_ALLOW_INSECURE": "true",
            "WEBHOOK_RETRY_SCHEDULE_SECONDS": "5,20",
        }
        for operator in ("MTN", "AIRTEL", "ZAMTEL"):
            env[f"{operator}_SIMULATOR_CALLBACK_DELAY_SECONDS"] = "1"
            env[f"{operator}_SIMULATOR_LATENCY_MS"] = "40"
            env[f"{operator}_BREAKER_RESET_SECONDS"] = "10"
        simulator = [
            sys.executable,
            "manage.py",
            "run_mtn_simulator",
            "--port",
            str(simulator_port),
        ]
        simulator_env = {**env, "WEB_CONCURRENCY": "2", "GUNICORN_THREADS": "8"}
        processes.start("simulators", simulator, simulator_env)
        processes.start(
            "web",
            throughput.gunicorn(
                "gateway.wsgi", web_port, 2, "--config", str(ROOT / "gateway" / "gunicorn.conf.py")
            ),
            {**env, "PROMETHEUS_MULTIPROC_DIR": str(work / "metrics-web")},
        )
        for name, queues, port in (
            ("worker", "operator", worker_port),
            ("scheduler", "scheduler,maintenance,sandbox", scheduler_port),
            ("webhooks", "webhooks", webhooks_port),
        ):
            processes.start(
                name,
                [sys.executable, "manage.py", "run_worker", "--queues", queues, "--name", name],
                {
                    **env,
                    "PROMETHEUS_MULTIPROC_DIR": str(work / f"metrics-{name}"),
                    "WORKER_METRICS_PORT": str(port),
                },
            )
        throughput.wait_until_answers(f"{web}/health")
        throughput.wait_until_answers(f"{simulators}/mtn/ready")
        prometheus = start_prometheus(
            processes,
            work,
            prometheus_port,
            [f"127.0.0.1:{web_port}"],
            [f"127.0.0.1:{port}" for port in (worker_port, scheduler_port, webhooks_port)],
        )
        requests.post(
            f"{web}/api/v1/webhook-endpoints",
            json={"url": "http://127.0.0.1:9/gone", "enabled_events": ["*"]},
            headers={"Authorization": f"Bearer {secret}"},
            timeout=10,
        ).raise_for_status()
        started = time.time()
        stop = threading.Event()
        pay = threading.Thread(target=merchant, args=(web, secret, args.rate, stop), daemon=True)
        pay.start()
        seconds = args.minutes * 60
        time.sleep(seconds * 0.35)
        print("operators down (simulators stopped)", flush=True)
        processes.stop("simulators")
        time.sleep(seconds * 0.3)
        print("operators back", flush=True)
        processes.start("simulators", simulator, simulator_env)
        time.sleep(seconds * 0.35)
        stop.set()
        pay.join()
        time.sleep(20)  # the last payments settle, Prometheus scrapes them
        ended = time.time()
        draw(prometheus, started, ended, args.window)
        print(f"wrote {OUTPUT.relative_to(ROOT)}", flush=True)
    finally:
        processes.stop_all()
        throughput.drop_database(admin)


def start_prometheus(
    processes: throughput.Processes, work: Path, port: int, web: list[str], workers: list[str]
) -> str:
    config = work / "prometheus.yml"
    rules = work / "alerts.yml"
    rules.write_text((ROOT / "deploy" / "prometheus" / "alerts.yml").read_text())
    config.write_text(
        json.dumps(  # JSON is YAML
            {
                "global": {
                    "scrape_interval": "2s",
                    "evaluation_interval": "2s",
                    "external_labels": {"runbook_base": "."},
                },
                "rule_files": [str(rules)],
                "scrape_configs": [
                    {"job_name": "gateway-web", "static_configs": [{"targets": web}]},
                    {"job_name": "gateway-worker", "static_configs": [{"targets": workers}]},
                ],
            }
        )
    )
    processes.start(
        "prometheus",
        [
            "prometheus",
            f"--config.file={config}",
            f"--storage.tsdb.path={work / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        dict(os.environ),
    )
    url = f"http://127.0.0.1:{port}"
    throughput.wait_until_answers(f"{url}/-/ready")
    return url


def merchant(web: str, secret: str, rate: float, stop: threading.Event) -> None:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {secret}"
    chooser = random.Random(15)  # noqa: S311  # a load mix, not a secret
    number = 0
    while not stop.is_set():
        number += 1
        msisdn = chooser.choice(NUMBERS[chooser.choice(list(NUMBERS))])
        body = {"amount": "20.00", "msisdn": msisdn, "external_id": f"dash-{number}"}
        try:
            session.post(f"{web}/api/v1/payments", json=body, timeout=10)
            session.get(f"{web}/api/v1/payments", timeout=10)
        except requests.RequestException:
            pass
        time.sleep(1 / rate)


def draw(prometheus: str, start: float, end: float, window: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from datetime import UTC, datetime

    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    panels = json.loads(DASHBOARD.read_text())["panels"]
    rows = (len(panels) + 1) // 2
    figure, axes = plt.subplots(rows, 2, figsize=(16, 3.2 * rows), squeeze=False)
    for axis, panel in zip(axes.flat, panels, strict=False):
        for target in panel["targets"]:
            expr = re.sub(r"\[(5m|15m)\]", f"[{window}]", target["expr"])
            params: dict[str, str | float] = {"query": expr, "start": start, "end": end}
            answer = requests.get(
                f"{prometheus}/api/v1/query_range", params={**params, "step": 5}, timeout=30
            ).json()
            for series in answer["data"]["result"]:
                label = _legend(target["legendFormat"], series["metric"])
                times = [datetime.fromtimestamp(float(t), UTC) for t, _ in series["values"]]
                values = [float(v) for _, v in series["values"]]
                if any(values):
                    axis.plot(times, values, label=label)
        axis.set_title(panel["title"], fontsize=10)
        axis.set_xlim(datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC))
        axis.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M"))  # type: ignore[no-untyped-call]
        axis.tick_params(labelsize=8)
        if axis.get_legend_handles_labels()[0]:
            axis.legend(fontsize=7, loc="upper left")
        else:
            axis.text(0.5, 0.5, "0 throughout", ha="center", va="center", transform=axis.transAxes)
    for axis in list(axes.flat)[len(panels) :]:
        axis.set_visible(False)
    query: dict[str, str | float] = {
        "query": 'max_over_time(ALERTS{alertstate="firing"}[1h])',
        "time": end,
    }
    fired = requests.get(
        f"{prometheus}/api/v1/query",
        params=query,
        timeout=30,
    ).json()["data"]["result"]
    names = sorted({_alert_name(alert["metric"]) for alert in fired})
    figure.suptitle(
        f"Payment gateway dashboard after a load run (rate windows {window}; "
        f"operators down for the middle 30%)\nAlerts fired: {', '.join(names) or 'none'}",
        fontsize=11,
    )
    figure.tight_layout(rect=(0, 0, 1, 0.97))
    OUTPUT.parent.mkdir(exist_ok=True)
    figure.savefig(OUTPUT, dpi=80)


def _legend(template: str, labels: dict[str, str]) -> str:
    """Grafana's legendFormat: {{label}} replaced by the series' label."""
    return re.sub(r"\{\{(\w+)\}\}", lambda match: labels.get(match[1], ""), template).strip()


def _alert_name(labels: dict[str, str]) -> str:
    subject = labels.get("provider") or labels.get("queue") or ""
    return f"{labels['alertname']} {subject}".strip()


if __name__ == "__main__":
    main()
