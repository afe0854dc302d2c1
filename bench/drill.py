"""The scale-out drill: the Kubernetes deployment's shape on one machine, behind HAProxy.

    make drill                                       # 2,000 payments
    .venv/bin/python bench/drill.py --payments 600 --port-base 8670

On loopback only, with a PostgreSQL of its own (var/drill/, stopped at the end): HAProxy
(Debian's `haproxy`) in front of two gunicorn instances of the gateway, health-checking each
on /health/ready (as the Service's readiness probe does) and retrying a request whose
connection failed on the other instance; three operator workers (the scaled worker
Deployment), a scheduler and a webhooks worker; the standalone simulators (no faults of
their own); a merchant webhook receiver. Everything runs under a supervisor that starts
again whatever dies (as Kubernetes restarts a pod).

Many clients (--clients, default 32) create --payments collections and payouts through
HAProxy as a real integrator does: an Idempotency-Key per payment, sent again with the same
key on a connection error, a 5xx or a 429. A third of the way in, one web instance (gunicorn
master and workers) is SIGKILLed; at two thirds, one operator worker is. Pass: every key
maps to exactly one payment and the counts match, and the chaos run's figures (every payment
final in its window, one money request each at the simulators, the operator's status, one
merchant event each, `check_ledger`, nothing dead). Prints the table (with the retries the
clients saw), writes it to bench/results/, exits 1 if any criterion fails.
"""

from __future__ import annotations

import argparse
import datetime
import shutil
import subprocess
import sys

import harness  # bench/harness.py: the script's own folder is first on sys.path
import throughput

HAPROXY = """\
global
    maxconn 4000

defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    # A request whose connection failed goes to the other instance; nothing that reached an
    # instance is replayed by HAProxy (the client's Idempotency-Key makes its own retry safe).
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response

frontend api
    bind 127.0.0.1:{port}
    default_backend gateway

backend gateway
    balance roundrobin
    # As the web pods' readiness probe: a slow answer under load is not a dead instance
    # (three checks 2 s apart, 3 s each); a killed one refuses connections at once.
    option httpchk GET /health/ready
    http-check expect status 200
    timeout check 3s
    default-server inter 2s fall 3 rise 2
{servers}
"""


def ensure_haproxy() -> str:
    """Debian's haproxy, installed here if it is missing (idempotent)."""
    found = shutil.which("haproxy")
    if found:
        return found
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "haproxy"], check=True)
    return shutil.which("haproxy") or "haproxy"


def kill_web(processes: harness.Supervisor, name: str) -> None:
    """SIGKILL a gunicorn instance whole (its workers first, then the master), as a lost pod."""
    import psutil  # type: ignore[import-untyped]  # a runtime dependency here; no stubs pinned

    master = psutil.Process(processes.pid(name))
    for child in master.children(recursive=True):
        child.kill()
    processes.kill(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--payments", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=32, help="concurrent merchant clients")
    parser.add_argument("--rate", type=float, default=0, help="payments per second (0: max)")
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--port-base", type=int, default=8670, help="5 ports from here")
    args = parser.parse_args()

    haproxy = ensure_haproxy()
    started = datetime.datetime.now(datetime.UTC)
    name = f"drill-{started:%Y%m%dT%H%M%SZ}"
    log_dir = harness.RESULTS / name
    log_dir.mkdir(parents=True, exist_ok=True)
    lb_port, web_a, web_b, simulator_port, receiver_port = (
        args.port_base + offset for offset in range(5)
    )
    postgres = harness.Postgres(throughput.ROOT / "var" / "drill")
    processes = harness.Supervisor(log_dir)
    receiver = harness.Receiver(receiver_port)
    ok = False
    try:
        database_url = postgres.start()
        harness.migrate(database_url)
        throughput.setup_django(database_url)
        lb_url = f"http://127.0.0.1:{lb_port}"
        env = harness.gateway_env(
            database_url=database_url,
            web_url=lb_url,  # operators call back through the load balancer
            simulators_url=f"http://127.0.0.1:{simulator_port}/sandbox",
        )
        harness.start_simulators(processes, env, simulator_port)
        harness.start_web(processes, "web-a", env, web_a)
        harness.start_web(processes, "web-b", env, web_b)
        harness.start_workers(processes, env, operator_workers=3)
        config = log_dir / "haproxy.cfg"
        servers = "\n".join(
            f"    server {server} 127.0.0.1:{port} check"
            for server, port in (("web-a", web_a), ("web-b", web_b))
        )
        config.write_text(HAPROXY.format(port=lb_port, servers=servers))
        processes.start("haproxy", [haproxy, "-W", "-db", "-f", str(config)], dict(env))
        throughput.wait_until_answers(f"{lb_url}/health/ready")
        secret = harness.set_up_merchant(lb_url, receiver, top_up="1000000.00")

        def faults(progress: harness.Progress) -> None:
            progress.wait_for(args.payments / 3)
            kill_web(processes, "web-a")
            progress.note(f"SIGKILL web-a (master and workers) at {progress.answered} payments")
            progress.wait_for(args.payments * 2 / 3)
            running = harness.kill_mid_call(processes, "operator-1")
            progress.note(
                f"SIGKILL operator-1 at {progress.answered} payments,"
                f" {running} operator jobs in flight"
            )

        def describe(outcome: harness.Outcome, seconds: float) -> str:
            return (
                f"`bench/drill.py {' '.join(sys.argv[1:])}`: {args.payments} payments from"
                f" {args.clients} clients through HAProxy (2 gunicorn instances x 2 workers),"
                " 3 operator workers + scheduler + webhooks worker, one PostgreSQL; created in"
                f" {outcome.elapsed:.0f} s, all settled after {seconds:.0f} s."
            )

        ok = harness.load_and_check(
            name=name,
            title=f"Scale-out drill {started:%Y-%m-%d %H:%M} UTC",
            describe=describe,
            urls=[lb_url],
            secret=secret,
            bodies=harness.payment_bodies(args.payments, seed=args.seed, prefix="drill"),
            clients=args.clients,
            rate=args.rate,
            faults=faults,
            receiver=receiver,
            processes=processes,
        )
    finally:
        harness.shut_down(processes, receiver, postgres)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
