"""dlfa.orchestration.local_slurm: the one-node cluster's configuration and its refusals (the
cluster itself runs in test_slurm.py)."""

import os

import pytest

from dlfa.orchestration import local_slurm
from dlfa.orchestration.local_slurm_setup import ClusterStartError, slurm_conf, slurmdbd_conf


def test_the_configuration_describes_this_node_with_everything_in_one_folder(tmp_path):
    ports = {"slurmctld": 7001, "slurmd": 7002, "dbd": 7003, "mysql": 7004}
    text = slurm_conf(tmp_path, "node1", "dlfa", ports, cpus=6, mem_mb=12000, gpus=2, extra="", cred_expire=5)
    assert "NodeName=node1 NodeAddr=127.0.0.1 NodeHostname=node1 CPUs=6 RealMemory=12000 Gres=gpu:2" in text
    assert "SlurmctldPort=7001" in text and "SlurmdPort=7002" in text and "AccountingStoragePort=7003" in text
    assert f"AuthInfo=socket={tmp_path}/munge/munge.sock,cred_expire=5" in text and "GresTypes=gpu" in text
    assert all(line.split("=", 1)[1].startswith(str(tmp_path)) for line in text.splitlines()
               if line.startswith(("StateSaveLocation", "SlurmdSpoolDir", "SlurmctldLogFile", "SlurmdLogFile")))
    assert "StoragePort=7004" in slurmdbd_conf(tmp_path, ports) and "DbdPort=7003" in slurmdbd_conf(tmp_path, ports)


def test_a_folder_others_cannot_enter_is_refused_before_anything_starts(tmp_path):
    if os.geteuid() != 0:
        with pytest.raises(ClusterStartError, match="must be started as root"):
            local_slurm.start(tmp_path / "slurm")
        return
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o700)
    if local_slurm.missing_binaries():
        pytest.skip(f"Slurm is not installed here: {local_slurm.INSTALL}")
    with pytest.raises(ClusterStartError, match=f"lies in {closed}, which others cannot enter"):
        local_slurm.start(closed / "slurm")
    assert not any((closed / "slurm").iterdir())  # no daemon, no configuration
