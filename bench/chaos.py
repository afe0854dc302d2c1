"""The chaos run: payments through slow, flaky operators while workers and PostgreSQL die.

    make chaos                                  # 10,000 payments (CHAOS_PAYMENTS=300 for CI)
    .venv/bin/python bench/chaos.py --payments 300 --kills 1 --port-base 8660

On loopback only, with a PostgreSQL of its own (var/chaos/, stopped at the end): the three
standalone simulators (`manage.py run_mtn_simulator`) with their chaos mode on
(providers/sandbox/chaos.py: 10 % of money requests held past the adapters' 2 s read timeout,
half stored first and half stored after; 5 % answered 500 once; 20 % never called back; status
reads held or 503 at the same rates; 50 ms on every answer), the gateway (gunicorn), two
operator workers, a scheduler and a webhooks worker under a supervisor that restarts whichever
dies, and a merchant webhook receiver. A merchant tops up its test balance, then its clients
create --payments collections and payouts across MTN, Airtel and Zamtel (one in ten to a
number that declines), each with an Idempotency-Key, retrying on errors. Meanwhile an operator
worker is SIGKILLed --kills times while operator calls are in flight, and PostgreSQL is
restarted (`pg_ctl restart -m fast`) --pg-restarts times.

Then it waits for every payment to be final and checks (harness.figures): every payment final
within its window; exactly one money request per payment stored at the simulators, and none
of no payment; the gateway's status equal to the operator's; exactly one merchant event per
final payment (deliveries deduplicated by event id); `manage.py check_ledger`; no process
dead. Prints the table, writes it to bench/results/, exits 1 if any criterion fails.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys

import harness  # bench/harness.py: the script's own folder is first on sys.path
import throughput

CHAOS = {
    "SIMULATOR_CHAOS_TIMEOUT_RATE": "0.10",
    "SIMULATOR_CHAOS_ERROR_RATE": "0.05",
    "SIMULATOR_CHAOS_LOST_CALLBACK_RATE": "0.20",
    "MTN_SIMULATOR_LATENCY_MS": "50",
    "AIRTEL_SIMULATOR_LATENCY_MS": "50",
    "ZAMTEL_SIMULATOR_LATENCY_MS": "50",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--payments", type=int, default=int(os.environ.get("CHAOS_PAYMENTS") or 10_000)
    )
    parser.add_argument("--kills", type=int, default=2, help="operator-worker SIGKILLs")
    parser.add_argument("--pg-restarts", type=int, default=1)
    parser.add_argument("--clients", type=int, default=8, help="concurrent merchant clients")
    parser.add_argument("--rate", type=float, default=25, help="payments created per second")
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--port-base", type=int, default=8660, help="3 ports from here")
    args = parser.parse_args()

    started = datetime.datetime.now(datetime.UTC)
    name = f"chaos-{started:%Y%m%dT%H%M%SZ}"
    log_dir = harness.RESULTS / name
    log_dir.mkdir(parents=True, exist_ok=True)
    postgres = harness.Postgres(throughput.ROOT / "var" / "chaos")
    processes = harness.Supervisor(log_dir)
    receiver = harness.Receiver(args.port_base + 2)
    ok = False
    try:
        database_url = postgres.start()
        harness.migrate(database_url)
        throughput.setup_django(database_url)
        web_url = f"http://127.0.0.1:{args.port_base}"
        env = harness.gateway_env(
            database_url=database_url,
            web_url=web_url,
            simulators_url=f"http://127.0.0.1:{args.port_base + 1}/sandbox",
        )
        env.update(CHAOS, SIMULATOR_CHAOS_SEED=str(args.seed))
        harness.start_simulators(processes, env, args.port_base + 1)
        harness.start_web(processes, "web", env, args.port_base)
        harness.start_workers(processes, env, operator_workers=2)
        secret = harness.set_up_merchant(web_url, receiver, top_up="1000000.00")
        # At these shares of the payments answered: the kills spread out, PostgreSQL's
        # restart just after the middle.
        plan = sorted(
            [((index + 1) / (args.kills + 1), "kill") for index in range(args.kills)]
            + [
                ((index + 1) / (args.pg_restarts + 1) + 0.05, "restart")
                for index in range(args.pg_restarts)
            ]
        )

        def faults(progress: harness.Progress) -> None:
            kills = 0
            for share, what in plan:
                progress.wait_for(share * args.payments)
                if what == "kill":
                    worker = f"operator-{kills % 2}"
                    kills += 1
                    running = harness.kill_mid_call(processes, worker)
                    progress.note(
                        f"SIGKILL {worker} at {progress.answered} payments created,"
                        f" {running} operator jobs in flight"
                    )
                else:
                    seconds = postgres.restart()
                    progress.note(
                        f"PostgreSQL restarted at {progress.answered} payments created"
                        f" ({seconds:.1f} s)"
                    )

        def describe(outcome: harness.Outcome, seconds: float) -> str:
            return (
                f"`bench/chaos.py {' '.join(sys.argv[1:])}`: {args.payments} payments"
                f" ({args.clients} clients, seed {args.seed}) created in {outcome.elapsed:.0f} s,"
                f" all settled after {seconds:.0f} s; {args.kills} worker SIGKILL(s),"
                f" {args.pg_restarts} PostgreSQL restart(s); simulators: 10 % timeouts,"
                " 5 % 5xx, 20 % lost callbacks, 50 ms latency."
            )

        ok = harness.load_and_check(
            name=name,
            title=f"Chaos run {started:%Y-%m-%d %H:%M} UTC",
            describe=describe,
            urls=[web_url],
            secret=secret,
            bodies=harness.payment_bodies(args.payments, seed=args.seed, prefix="chaos"),
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
