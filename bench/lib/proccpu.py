"""proccpu snap PID...: one line per process of the trees rooted at the PIDs
(each PID and its descendants, from /proc/*/stat): pid, start time, ppid,
comm, the CPU nanoseconds the process itself used (/proc/PID/schedstat,
exact), and those of its children it has already waited for (cutime +
cstime, clock ticks).

proccpu diff BEFORE AFTER: from two snapshots around a load, the CPU spent
in between, one "NAME NANOSECONDS" line per name: NAME is a comm for what
processes of that name used themselves, COMM/reaped for what the children
of processes of that name used and ended in between (the part a child that
was in BEFORE had used already is taken off).  A long-lived server's
daemons are thus counted by name while alive and as their parent's reaped
children once they have exited."""
import os
import sys

TICK_NS = 1e9 / os.sysconf("SC_CLK_TCK")


def read_proc(pid):
    try:
        with open("/proc/%s/stat" % pid) as f:
            stat = f.read()
        with open("/proc/%s/schedstat" % pid) as f:
            self_ns = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    comm = stat[stat.index("(") + 1:stat.rindex(")")]
    rest = stat[stat.rindex(")") + 2:].split()
    # rest[0] is field 3 (state): ppid 4, cutime 16, cstime 17, starttime 22.
    ppid, cutime, cstime, start = int(rest[1]), int(rest[13]), int(rest[14]), rest[19]
    return start, ppid, comm.replace(" ", "_"), self_ns, int((cutime + cstime) * TICK_NS)


def snap(roots):
    procs = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            p = read_proc(d)
            if p:
                procs[int(d)] = p
    keep, todo = set(), [int(r) for r in roots]
    while todo:
        pid = todo.pop()
        if pid in procs and pid not in keep:
            keep.add(pid)
            todo.extend(c for c, p in procs.items() if p[1] == pid)
    for pid in sorted(keep):
        start, ppid, comm, self_ns, reaped = procs[pid]
        print(pid, start, ppid, comm, self_ns, reaped)


def load(path):
    procs = {}
    with open(path) as f:
        for line in f:
            pid, start, ppid, comm, self_ns, reaped = line.split()
            procs[(pid, start)] = (ppid, comm, int(self_ns), int(reaped))
    return procs


def diff(before_path, after_path):
    before, after = load(before_path), load(after_path)
    by_pid = {k[0]: k for k in after}
    out = {}
    for key, (ppid, comm, self_ns, reaped) in after.items():
        old = before.get(key, (None, None, 0, 0))
        out[comm] = out.get(comm, 0) + self_ns - old[2]
        name = comm + "/reaped"
        out[name] = out.get(name, 0) + reaped - old[3]
    # A child that ended in between passed all its CPU, the part before the
    # first snapshot included, to its parent's reaped count.
    for key, (ppid, comm, self_ns, reaped) in before.items():
        if key not in after and ppid in by_pid:
            name = after[by_pid[ppid]][1] + "/reaped"
            out[name] = out.get(name, 0) - self_ns - reaped
    for name in sorted(out):
        print(name, max(out[name], 0))


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "snap":
        snap(sys.argv[2:])
    elif len(sys.argv) == 4 and sys.argv[1] == "diff":
        diff(sys.argv[2], sys.argv[3])
    else:
        sys.exit("usage: proccpu snap PID... | proccpu diff BEFORE AFTER")
