"""spawnloop RUNS INPUT PROGRAM...: runs each PROGRAM (a path, no
arguments) RUNS times, one process at a time, with fd 0 freshly opened on
INPUT and fd 1/2 on /dev/null.  The programs take turns run by run, so a
change in the machine's load hits them all alike.  Prints one line per
PROGRAM, in the order given, of key=value: wall time per run (median, mean,
p90), and the child's own CPU time and minor page faults per run (from
wait4), in microseconds.  posix_spawn keeps the driver's own cost per run
small and the same for every program."""
import os
import statistics
import sys
import time


def spawn_once(argv, actions):
    t0 = time.perf_counter_ns()
    pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=actions)
    _, status, usage = os.wait4(pid, 0)
    wall = (time.perf_counter_ns() - t0) / 1000.0
    cpu = (usage.ru_utime + usage.ru_stime) * 1e6
    return wall, cpu, usage.ru_minflt, os.waitstatus_to_exitcode(status) != 0


def main():
    if len(sys.argv) < 4:
        sys.exit("usage: spawnloop RUNS INPUT PROGRAM...")
    runs, path, programs = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, path, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0),
        (os.POSIX_SPAWN_OPEN, 2, "/dev/null", os.O_WRONLY, 0),
    ]
    results = {p: ([], [], [], 0) for p in programs}
    for _ in range(runs):
        for p in programs:
            wall, cpu, faults, failed = spawn_once([p], actions)
            walls, cpus, flts, fails = results[p]
            walls.append(wall)
            cpus.append(cpu)
            flts.append(faults)
            results[p] = (walls, cpus, flts, fails + failed)
    for p in programs:
        walls, cpus, flts, fails = results[p]
        walls.sort()
        print("program=%s runs=%d failed=%d wall_median=%.0f wall_mean=%.0f wall_p90=%.0f "
              "cpu=%.0f minflt=%.0f" % (
                  p, runs, fails, statistics.median(walls), statistics.mean(walls),
                  walls[int(len(walls) * 0.9)], statistics.mean(cpus), statistics.mean(flts)))


main()
