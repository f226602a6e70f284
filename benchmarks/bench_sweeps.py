"""Sweeps on dask: speed-up of a CPU-bound sweep on N local workers vs serial, and the per-task overhead.

1. A CPU-bound sweep: 16 ``simulate`` tasks (Gaussian d = 4, exact method, ~0.3-0.5 s each on one
   core), run serially in this process, then on a ``LocalCluster`` of N = 2 single-threaded worker
   processes that is already started and has imported the library (its start-up is reported
   separately). Speed-up = serial / parallel wall time; efficiency = speed-up / N. On a machine
   whose cores are busy with other work the wall-clock efficiency drops (the printout gives the load
   average), so the CPU time of both runs is printed too (the cluster's includes dask's background
   work — heartbeats, event loops — which grows with the run's wall time on a busy machine).
2. The engine's overhead for tiny tasks: 1000 tasks of a function that returns at once, on the same
   cluster, one task per dask task (``--chunk 1``) and the automatic chunks (10 tasks here); overhead per task = wall
   time / 1000 (scheduling, transfer, the store's commit), and the CPU time it took (the driver
   process, which also hosts the scheduler, plus the workers), which does not depend on how busy the
   machine is. The serial path's overhead (a commit per task) is reported too. Target: < 5 ms per task.
"""

import os
import resource
import tempfile
import time
from pathlib import Path

N_WORKERS = 2


def noop(i: int) -> dict:
    """A task that does nothing: the engine's own cost is all that is measured."""
    return {"i": i}


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _spec(tmp: Path, name: str, body: str):
    from stability.sweeps import load_spec

    path = tmp / f"{name}.toml"
    path.write_text(f'store = "{name}.sqlite"\n' + body)
    return load_spec(path)


CPU_SPEC = """task = "simulate"
seed = 1
[base]
family = "gaussian"
dim = 4
generations = 100
chains = 500
[grid]
lambda_ = [0.25, 0.5, 1.0, 2.0]
n = [50, 100, 200, 400]
"""


def main():
    from stability.sweeps import local_cluster, run_sweep
    from stability.sweeps.engine import import_distributed

    distributed = import_distributed()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        c0, t0 = _cpu(), time.perf_counter()
        serial = run_sweep(_spec(tmp, "serial", CPU_SPEC), serial=True)
        t_serial, cpu_serial = time.perf_counter() - t0, _cpu() - c0
        assert serial.done == 16, serial

        t0 = time.perf_counter()
        cluster = local_cluster(N_WORKERS)
        client = distributed.Client(cluster)
        client.run(lambda: __import__("stability.sweeps.engine"))  # every worker imports the library
        t_start = time.perf_counter() - t0
        try:
            w0, c0, t0 = client.run(_cpu), _cpu(), time.perf_counter()
            par = run_sweep(_spec(tmp, "parallel", CPU_SPEC), client=client)
            t_par = time.perf_counter() - t0
            cpu_par = _cpu() - c0 + sum(client.run(_cpu).values()) - sum(w0.values())
            assert par.done == 16, par
            speedup = t_serial / t_par
            load = os.getloadavg()[0]
            print(f"CPU-bound sweep, 16 simulate tasks (~{t_serial / 16:.2f} s each), load average {load:.1f}:")
            print(f"  serial {t_serial:.2f} s; {N_WORKERS} workers {t_par:.2f} s (cluster start-up {t_start:.1f} s)")
            print(f"  speed-up {speedup:.2f}x, efficiency {speedup / N_WORKERS:.0%}")
            print(
                f"  CPU time: serial {cpu_serial:.2f} s, on the cluster {cpu_par:.2f} s (driver, scheduler and "
                "workers, including dask's own background work for as long as the run lasts)"
            )

            m = 1000
            tiny = f'task = "benchmarks.bench_sweeps:noop"\n[grid]\ni = {list(range(m))}\n'
            overhead = {}
            for chunk in (1, None):
                w0, c0, t0 = client.run(_cpu), _cpu(), time.perf_counter()
                s = run_sweep(_spec(tmp, f"tiny{chunk}", tiny), client=client, chunk=chunk)
                wall = time.perf_counter() - t0
                cpu = _cpu() - c0 + sum(client.run(_cpu).values()) - sum(w0.values())
                assert s.done == m, s
                overhead[chunk] = wall, cpu
        finally:
            client.close()
            cluster.close()
        t0 = time.perf_counter()
        s = run_sweep(_spec(tmp, "tiny_serial", tiny), serial=True)
        t_tiny_serial = time.perf_counter() - t0
        assert s.done == m, s
        print(f"engine overhead, {m} tasks that return at once (target < 5 ms per task), load average {load:.1f}:")
        for chunk, (wall, cpu) in overhead.items():
            print(
                f"  {N_WORKERS} workers, chunk {chunk or 'auto (10)'}: {1e3 * wall / m:.2f} ms per task wall "
                f"({wall:.2f} s in all), {1e3 * cpu / m:.2f} ms CPU per task (driver + scheduler + workers)"
            )
        print(f"  serial: {1e3 * t_tiny_serial / m:.2f} ms per task ({t_tiny_serial:.2f} s in all)")


if __name__ == "__main__":
    main()
