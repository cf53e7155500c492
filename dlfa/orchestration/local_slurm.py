"""A one-node Slurm cluster on this machine, for the tests of the Slurm executor and for trying
``dlfa run --executor slurm`` without a cluster (``make cluster``).

Everything (configuration generated from this machine's hostname, CPUs and memory; the munge key and
socket; state, spool, logs; the MariaDB data folder) lives under one folder; nothing in /etc/slurm,
/etc/munge or systemd is read. The daemons run as root, in this order: munged, mysqld, slurmdbd,
slurmctld, slurmd. Accounting (slurmdbd on MariaDB) is not optional: submitit learns a job's state
from ``sacct`` only, and without it a cancelled job would never count as finished.

Needs root and Debian's packages ``APT_PACKAGES`` (:func:`ensure_installed` installs them).
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import time
import weakref
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from dlfa.orchestration.local_slurm_setup import (INSTALL, ClusterStartError, SlurmNotInstalled, ensure_installed,
                                                  free_ports, mem_total_mb, missing_binaries, port_open, slurm_conf,
                                                  slurmdbd_conf, which, write)


MARKER = "DLFA_LOCAL_SLURM"  # in every daemon's environment: <folder>, to find the cluster's processes


def _tail(path: Path, n: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return "<no log>"


def _proc_environ(pid: int) -> List[bytes]:
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return []


def _ancestors() -> set:
    pids, pid = set(), os.getpid()
    while pid > 1:
        pids.add(pid)
        try:
            with open(f"/proc/{pid}/stat") as f:
                pid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return pids


def _cluster_pids(base: Path) -> List[int]:
    """Processes of the cluster in ``base``: daemons and slurmstepd (they carry the marker
    DLFA_LOCAL_SLURM=<base>), and job processes (SLURM_JOB_ID set and
    SLURM_CONF=<base>/etc/slurm.conf). Client processes that merely have SLURM_CONF (a shell,
    the test runner) are left alone. Excludes this process and its ancestors."""
    marker = f"{MARKER}={base}".encode()
    conf = f"SLURM_CONF={base / 'etc' / 'slurm.conf'}".encode()
    skip = _ancestors()
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) in skip:
            continue
        env = _proc_environ(int(d))
        if marker in env or (conf in env and any(e.startswith(b"SLURM_JOB_ID=") for e in env)):
            pids.append(int(d))
    return pids


def kill_stale(base_dir, timeout: float = 4) -> List[int]:
    """Kill leftovers of a cluster started from ``base_dir`` by a process that died without
    stop() (e.g. a test runner killed with SIGKILL). Returns the pids that were signalled."""
    base = Path(base_dir).resolve()
    pids = _cluster_pids(base)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + timeout / 2
        while time.monotonic() < deadline and any(os.path.exists(f"/proc/{p}") and not _is_zombie(p) for p in pids):
            time.sleep(0.1)
    return pids


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def _set_pdeathsig() -> None:  # runs in the child between fork and exec
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


class Cluster:
    """A running cluster. ``env`` holds the variables a client needs (SLURM_CONF)."""

    def __init__(self, base_dir: Path, die_with_parent: bool = True):
        self.base_dir = base_dir
        self.die_with_parent = die_with_parent
        self.conf = base_dir / "etc" / "slurm.conf"
        self.hostname = socket.gethostname().split(".")[0]
        self.cluster_name = "dlfa"
        self.ports: Dict[str, int] = {}
        self.procs: Dict[str, subprocess.Popen] = {}
        self.logs: Dict[str, Path] = {}
        self.env: Dict[str, str] = {"SLURM_CONF": str(self.conf)}
        self.timings: Dict[str, float] = {}
        self._stopped = False

    def environ(self, base: Optional[Dict[str, str]] = None) -> Dict[str, str]:
        """os.environ (or ``base``) without stray SLURM_* vars, plus ``self.env``."""
        env = {k: v for k, v in (os.environ if base is None else base).items() if not k.startswith("SLURM_")}
        env.update(self.env)
        return env

    def run(self, *cmd: str, check: bool = True, timeout: float = 60) -> str:
        r = subprocess.run(cmd, env=self.environ(), capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise RuntimeError(f"{cmd} failed ({r.returncode}): {r.stdout}{r.stderr}")
        return r.stdout

    def node_state(self) -> str:
        r = subprocess.run(["sinfo", "-h", "-N", "-o", "%T"], env=self.environ(),
                           capture_output=True, text=True, timeout=20)
        return ",".join(sorted(set(r.stdout.split()))) if r.returncode == 0 else ""  # a line per partition

    def _daemon_env(self) -> Dict[str, str]:
        env = self.environ()
        env[MARKER] = str(self.base_dir)
        return env

    def _spawn(self, name: str, cmd: List[str]) -> subprocess.Popen:
        log = self.base_dir / "log" / f"{name}.out"
        self.logs[name] = log
        with open(log, "ab") as out:
            p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                 env=self._daemon_env(), cwd=str(self.base_dir), start_new_session=True,
                                 preexec_fn=_set_pdeathsig if self.die_with_parent else None)
        self.procs[name] = p
        (self.base_dir / "run" / f"{name}.pid").write_text(f"{p.pid}\n")
        return p

    def _wait_for(self, what: str, cond, timeout: float, procs: Sequence[str] = ()) -> None:
        t0 = time.monotonic()
        while True:
            if cond():
                self.timings[what] = time.monotonic() - t0
                return
            for name in procs:
                p = self.procs.get(name)
                if p is not None and p.poll() is not None:
                    raise ClusterStartError(f"{name} exited with {p.returncode} while waiting for {what}:\n"
                                            + _tail(self.logs[name]))
            if time.monotonic() - t0 > timeout:
                details = "\n".join(f"--- {n}:\n{_tail(self.logs[n])}" for n in procs if n in self.logs)
                raise ClusterStartError(f"timeout ({timeout}s) waiting for {what}\n{details}")
            time.sleep(0.1)

    def _strays(self) -> List[int]:
        """pids (not our direct children) of slurmstepd / job processes of this cluster."""
        own = {p.pid for p in self.procs.values() if p.poll() is None}
        return [p for p in _cluster_pids(self.base_dir) if p not in own and not _is_zombie(p)]

    def stop(self, timeout: float = 15) -> None:
        """Stop all daemons and kill leftover job steps; waits until all are gone."""
        if self._stopped:
            return
        self._stopped = True
        t0 = time.monotonic()

        def term(names: Sequence[str], wait: float) -> None:
            live = [self.procs[n] for n in names if n in self.procs and self.procs[n].poll() is None]
            for p in live:
                try:
                    p.send_signal(signal.SIGTERM)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + wait
            for p in live:
                try:
                    p.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(5)

        term(["slurmctld", "slurmd"], timeout / 2)
        # job steps (slurmstepd and the user processes) are not our children: find them via environ
        killed: set = set()
        for _ in range(3):
            strays = self._strays()
            if not strays:
                break
            for pid in strays:
                try:
                    os.kill(pid, signal.SIGKILL)
                    killed.add(pid)
                except ProcessLookupError:
                    pass
            time.sleep(0.3)
        # killed steps are orphans: give init a moment to reap them so `pgrep` is clean afterwards
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and any(os.path.exists(f"/proc/{p}") for p in killed):
            time.sleep(0.1)
        term(["slurmdbd"], timeout / 2)
        term(["mysqld"], timeout)
        term(["munged"], timeout / 2)
        self.timings["stop"] = time.monotonic() - t0

    def __enter__(self) -> "Cluster":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start(base_dir, cpus: Optional[int] = None, mem_mb: Optional[int] = None,
          gpus: int = 0, extra_conf: str = "", cred_expire: int = 5, timeout: float = 60,
          kill_stale_processes: bool = True, die_with_parent: bool = True) -> Cluster:
    """Start munged, mysqld, slurmdbd, slurmctld and slurmd under ``base_dir``.

    Returns once the node is ``idle``. ``cluster.env`` / ``cluster.environ()`` give the client
    environment (SLURM_CONF). ``gpus`` > 0 declares fake GPUs (gres/gpu backed by /dev/null symlinks).
    ``cred_expire`` (AuthInfo) is also how long a requeued job waits before it may start again
    (Slurm default 120 s). ``kill_stale_processes``: kill leftovers of a previous cluster in the
    same ``base_dir``. ``die_with_parent``: daemons get PR_SET_PDEATHSIG=SIGTERM, so they die when
    the *thread* that called start() exits (job steps are cleaned by stop()/kill_stale()).
    """
    if os.geteuid() != 0:
        raise ClusterStartError("a local Slurm cluster must be started as root (slurmd/munged/SlurmUser=root)")
    missing = missing_binaries()
    if missing:
        raise SlurmNotInstalled(f"Slurm binaries missing: {missing}. Install with: {INSTALL}"
                                " (or call ensure_installed())")
    t_start = time.monotonic()
    base = Path(base_dir).resolve()
    base.mkdir(parents=True, exist_ok=True)
    closed = [str(d) for d in base.parents if not os.stat(d).st_mode & 0o001]
    if closed:  # munged refuses a socket below a folder others cannot enter
        raise ClusterStartError(f"{base} lies in {closed[0]}, which others cannot enter (munged needs them to): "
                                "start the cluster in a folder such as one made by tempfile.mkdtemp() in /tmp")
    # leftovers of an earlier cluster in the same dir (its owner died without stop())
    t0 = time.monotonic()
    stale = _cluster_pids(base)
    if stale:
        if not kill_stale_processes:
            raise ClusterStartError(f"processes of a cluster in {base} still run: {stale}; "
                                    "stop it, or pass kill_stale_processes=True")
        kill_stale(base)
    shutil.rmtree(base / "fakegpu", ignore_errors=True)
    for sub in ("etc", "state", "spool", "run", "log", "munge", "mysql"):
        shutil.rmtree(base / sub, ignore_errors=True)
        (base / sub).mkdir(parents=True, exist_ok=True)
    prep_s = time.monotonic() - t0
    os.chmod(base, 0o755)
    os.chmod(base / "munge", 0o755)  # munged: socket dir must be a+x

    c = Cluster(base, die_with_parent)
    c.timings["prepare"] = prep_s
    ok = False
    try:
        names = ["slurmctld", "slurmd", "dbd", "mysql"]
        c.ports = dict(zip(names, free_ports(len(names))))
        cpus = cpus or os.cpu_count() or 1
        mem_mb = mem_mb or max(512, mem_total_mb() - max(512, mem_total_mb() // 20))
        etc = base / "etc"
        write(etc / "slurm.conf", slurm_conf(base, c.hostname, c.cluster_name, c.ports, cpus, mem_mb, gpus, extra_conf, cred_expire))
        write(etc / "plugstack.conf", "")
        write(etc / "cgroup.conf", "CgroupPlugin=autodetect\n")
        if gpus:
            # fake GPUs: gres/gpu needs File= entries that are char devices; a Count-only line is
            # counted as 0 ("gres/gpu count reported lower than configured") and the node goes INVAL.
            # Symlinks to /dev/null named nvidiaN pass slurmd's check and give CUDA_VISIBLE_DEVICES.
            fake = base / "fakegpu"
            fake.mkdir(exist_ok=True)
            for i in range(gpus):
                os.symlink("/dev/null", fake / f"nvidia{i}")
            files = f"{fake}/nvidia0" if gpus == 1 else f"{fake}/nvidia[0-{gpus - 1}]"
            write(etc / "gres.conf", f"NodeName={c.hostname} Name=gpu File={files}\n")
        write(etc / "slurmdbd.conf", slurmdbd_conf(base, c.ports), mode=0o600)  # slurmdbd refuses a readable one
        key = base / "munge" / "munge.key"
        fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(fd, os.urandom(1024))
        os.close(fd)
        m = base / "munge"
        c._spawn("munged", [which("munged"), "-F", f"--socket={m}/munge.sock", f"--key-file={key}",
                            f"--pid-file={m}/munged.pid", f"--seed-file={m}/munged.seed",
                            "--num-threads=4"])
        c._wait_for("munged", lambda: (m / "munge.sock").exists(), 10, ["munged"])
        my = base / "mysql"
        t0 = time.monotonic()
        r = subprocess.run([which("mariadb-install-db"), "--no-defaults", f"--datadir={my}/data",
                            "--user=root", "--auth-root-authentication-method=normal", "--skip-test-db",
                            "--skip-name-resolve", "--innodb-log-file-size=16M"],
                           capture_output=True, text=True, cwd=str(base))
        c.timings["mariadb-install-db"] = time.monotonic() - t0
        (base / "log" / "mariadb-install-db.out").write_text(r.stdout + r.stderr)
        if r.returncode != 0:
            raise ClusterStartError("mariadb-install-db failed:\n" + r.stdout[-2000:] + r.stderr[-2000:])
        c._spawn("mysqld", [which("mariadbd|mysqld"), "--no-defaults", f"--datadir={my}/data",
                            f"--socket={my}/mysqld.sock", f"--port={c.ports['mysql']}",
                            "--bind-address=127.0.0.1", f"--pid-file={my}/mysqld.pid",
                            f"--log-error={base}/log/mysqld.err", "--user=root", "--skip-name-resolve",
                            "--innodb-use-native-aio=0", "--innodb-buffer-pool-size=128M",
                            "--innodb-log-file-size=16M", "--innodb-lock-wait-timeout=900",
                            "--innodb-flush-log-at-trx-commit=0", "--innodb-doublewrite=0",
                            "--skip-log-bin", "--max-connections=100"])
        c.logs["mysqld"] = base / "log" / "mysqld.err"
        c._wait_for("mysqld", lambda: port_open(c.ports["mysql"]), 30, ["mysqld"])
        c._spawn("slurmdbd", [which("slurmdbd"), "-D"])
        c._wait_for("slurmdbd", lambda: port_open(c.ports["dbd"]), 30, ["slurmdbd"])
        c._spawn("slurmctld", [which("slurmctld"), "-D", "-i", "-f", str(c.conf)])
        c._wait_for("slurmctld", lambda: port_open(c.ports["slurmctld"]), 30, ["slurmctld"])
        c._spawn("slurmd", [which("slurmd"), "-D", "-f", str(c.conf), "-N", c.hostname])
        c._wait_for("node idle", lambda: c.node_state() == "idle", timeout, ["slurmctld", "slurmd"])
        # the cluster row is created by slurmctld on registration; make sure sacct answers
        c._wait_for("sacct", lambda: subprocess.run(["sacct", "-n", "-X", "-a"], env=c.environ(),
                                                    capture_output=True).returncode == 0, 30,
                    ["slurmdbd", "slurmctld"])
        c.timings["start"] = time.monotonic() - t_start
        ok = True
        _live.add(c)
        return c
    finally:
        if not ok:
            c.stop()


_live: "weakref.WeakSet[Cluster]" = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    for c in list(_live):
        try:
            c.stop()
        except Exception:
            pass


DEFAULT_DIR = Path(__file__).resolve().parents[2] / "outputs" / ".slurm"  # git-ignored


def main(argv: list[str] | None = None) -> int:
    """``start [DIR]``: start a cluster that outlives this command; ``stop [DIR]``: stop it."""
    import argparse
    parser = argparse.ArgumentParser(prog="python -m dlfa.orchestration.local_slurm", description=main.__doc__)
    parser.add_argument("action", choices=("start", "stop"))
    parser.add_argument("folder", nargs="?", default=str(DEFAULT_DIR))
    args = parser.parse_args(argv)
    if args.action == "stop":
        stopped = kill_stale(args.folder)
        print(f"stopped {len(stopped)} process(es) of the cluster in {args.folder}")
        return 0
    ensure_installed()
    cluster = start(args.folder, die_with_parent=False)
    _live.discard(cluster)  # it outlives this command
    print(f"a one-node Slurm cluster runs from {args.folder} (started in {cluster.timings['start']:.1f} s).\n"
          f"Use it:   export SLURM_CONF={cluster.conf}\n"
          f"          dlfa run params/smoke.yaml --executor slurm --partition debug --cpus {os.cpu_count()} --mem 3\n"
          f"Stop it:  make cluster-stop")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
