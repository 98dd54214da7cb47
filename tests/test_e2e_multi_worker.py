"""Two workers of MultiWorkerMirroredStrategy on 127.0.0.1 train the spot phase together."""
import json
import os
import re
import socket
import subprocess

from e2e import ROOT, command


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def run_workers(flags, count=2):
    """Runs the script as `count` workers of one MultiWorkerMirroredStrategy; returns their stderr (all exit 0)."""
    workers = [f"127.0.0.1:{port}" for port in _free_ports(count)]
    processes = []
    for index in range(count):
        tf_config = json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})
        env = {**os.environ, "TF_CONFIG": tf_config, "TF_CPP_MIN_LOG_LEVEL": "2"}
        processes.append(subprocess.Popen(command(*flags), cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, text=True))
    outputs = [p.communicate(timeout=600) for p in processes]
    for process, (_, err) in zip(processes, outputs):
        assert process.returncode == 0, err[-3000:]
    return [err for _, err in outputs]


def test_two_workers_finish_with_equal_weights_and_only_the_chief_writes(tmp_path, demo_cache, tiny_autoencoder):
    outputs = run_workers([f"--model_dir={tmp_path}", f"--data_cache_dir={demo_cache}", "--phase=spot",
                           "--strategy=multi_worker", f"--ae_checkpoint={tiny_autoencoder}", "--image_size=32",
                           "--batch_size=8", "--spot_steps=3", "--checkpoint_every=2", "--summary_every=2"])
    checksums = [re.findall(r"spot: step 3, weights checksum (\S+)", err) for err in outputs]
    assert all(len(c) == 1 for c in checksums), [err[-2000:] for err in outputs]
    assert float(checksums[0][0]) == float(checksums[1][0])
    assert sorted(p.name for p in (tmp_path / "spot").glob("ckpt-*.index")) == ["ckpt-2.index", "ckpt-3.index"]
    assert len(list((tmp_path / "spot" / "logs").glob("events.out.tfevents.*"))) == 1
