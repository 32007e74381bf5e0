"""spawnloop RUNS INPUT PROGRAM [ARG...]: runs PROGRAM RUNS times, each with
fd 0 freshly opened on INPUT and fd 1/2 on /dev/null, one at a time, and
prints one line of key=value: wall time per run (median, mean, p90) and the
children's CPU time and minor page faults per run, in microseconds.
posix_spawn keeps the driver's own cost per run small and constant."""
import os
import resource
import statistics
import sys
import time


def main():
    if len(sys.argv) < 4:
        sys.exit("usage: spawnloop RUNS INPUT PROGRAM [ARG...]")
    runs, path, argv = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, path, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0),
        (os.POSIX_SPAWN_OPEN, 2, "/dev/null", os.O_WRONLY, 0),
    ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    walls, failures = [], 0
    for _ in range(runs):
        t0 = time.perf_counter_ns()
        pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=actions)
        _, status = os.waitpid(pid, 0)
        walls.append((time.perf_counter_ns() - t0) / 1000.0)
        if os.waitstatus_to_exitcode(status) != 0:
            failures += 1
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) * 1e6 / runs
    faults = (after.ru_minflt - before.ru_minflt) / runs
    walls.sort()
    print("runs=%d failed=%d wall_median=%.0f wall_mean=%.0f wall_p90=%.0f cpu=%.0f minflt=%.0f" % (
        runs, failures, statistics.median(walls), statistics.mean(walls),
        walls[int(len(walls) * 0.9)], cpu, faults))


main()
