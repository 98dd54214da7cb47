"""End-to-end: training through a tf.data service on localhost, and the spot-tf-data-service script."""
import os
import re
import signal
import subprocess
import sys
import time


from e2e import ROOT, command, run
from spot_tf.data import make_dataset
from spot_tf.data import service
from test_data_service import closed_port

SERVICE_SCRIPT = [sys.executable, "-c", "from spot_tf.data_service_cli import run; run()"]


def _wait_for(path, process, timeout=300):
    deadline = time.time() + timeout
    while not path.exists():
        assert process.poll() is None and time.time() < deadline, process.communicate()[1][-3000:]
        time.sleep(0.2)


def test_phases_train_through_two_workers_one_leaving_and_a_signal_saves(tmp_path, demo_cache, tiny_autoencoder):
    with service.local_service(num_workers=2) as local:
        flags = [f"--model_dir={tmp_path}", f"--data_cache_dir={demo_cache}", f"--data_service={local.address}",
                 f"--ae_checkpoint={tiny_autoencoder}", "--image_size=32", "--batch_size=4",
                 "--checkpoint_every=3", "--summary_every=1000"]
        process = subprocess.Popen(command(*flags, "--phase=autoencoder", "--ae_steps=100000"), cwd=ROOT,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                   env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
        _wait_for(tmp_path / "autoencoder" / "ckpt-3.index", process)
        local.stop_worker()  # The phase reads on from the other one.
        _wait_for(tmp_path / "autoencoder" / "ckpt-6.index", process)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=300)
        assert process.returncode == 1 and "Traceback" not in err, err[-3000:]
        step = int(re.fullmatch(r"error: stopped by SIGTERM at step (\d+): \S+ saved; rerun the same command to "
                                r"resume", err.strip().splitlines()[-1]).group(1))
        assert (tmp_path / "autoencoder" / f"ckpt-{step}.index").exists()
        local.add_worker()
        resumed = run(*flags, "--phase=autoencoder", f"--ae_steps={step + 1}")
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        assert f"resuming from {tmp_path}/autoencoder/ckpt-{step}" in resumed.stderr
        spot = run(*flags, "--phase=spot", "--spot_steps=2")
        assert spot.returncode == 0, spot.stderr[-3000:]
        assert "spot: step 2, weights checksum" in spot.stderr


def _start(*args):
    process = subprocess.Popen([*SERVICE_SCRIPT, *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    line = process.stdout.readline()
    assert line.startswith(f"{args[0]} serving at "), process.communicate()[1][-3000:]
    return process, line.split()[-1]


def _stop(process, address):
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0 and out.strip().endswith(f"at {address} stopped"), err[-3000:]


def _one_batch(spec, address, job):
    dataset = make_dataset(spec, "unsupervised", 32, 4, training=True, data_service=address,
                           service_job=job)
    return next(iter(dataset))


def test_the_script_serves_a_restarted_dispatcher_resumes_and_sigterm_stops_it(tmp_path, demo_cache):
    spec = os.path.join(demo_cache, "demo", "train-*")
    work_dir = str(tmp_path / "dispatcher")
    dispatcher, address = _start("dispatcher", f"--work_dir={work_dir}")
    port = address.rsplit(":", 1)[1]
    worker, worker_address = _start("worker", f"--dispatcher=localhost:{port}", "--host=localhost")
    assert _one_batch(spec, address, "first").shape == (4, 32, 32, 3)
    _stop(dispatcher, address)
    # Restarted on its journal: its worker finds it again, and it serves new jobs.
    dispatcher, _ = _start("dispatcher", f"--work_dir={work_dir}", f"--port={port}")
    assert _one_batch(spec, address, "second").shape == (4, 32, 32, 3)
    _stop(worker, worker_address)
    _stop(dispatcher, address)


def test_an_unreachable_dispatcher_is_one_line(tmp_path, demo_cache):
    address = f"grpc://127.0.0.1:{closed_port()}"
    result = run(f"--model_dir={tmp_path}", f"--data_cache_dir={demo_cache}", f"--data_service={address}",
                 "--phase=autoencoder", "--image_size=32", "--batch_size=4", "--ae_steps=2")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(
        f"error: --data_service={address}: no tf.data service dispatcher answers there")
    assert not (tmp_path / "autoencoder").exists()
    worker = subprocess.run([*SERVICE_SCRIPT, "worker", f"--dispatcher={address[len('grpc://'):]}"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert worker.returncode == 1
    assert worker.stderr.strip().splitlines()[-1].startswith(
        f"error: --dispatcher={address[len('grpc://'):]}: no tf.data service dispatcher answers there")
    bad = run(f"--model_dir={tmp_path}", "--data_service=localhost:5050", "--phase=autoencoder")
    assert bad.returncode == 1
    assert bad.stderr.strip().splitlines()[-1] == (
        "error: --data_service=localhost:5050: expected grpc://HOST:PORT (a tf.data service dispatcher, see "
        "spot-tf-data-service)")
