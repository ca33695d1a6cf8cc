"""A helper process for the kill and concurrency tests and the invariants harness: it
imports FiftyOne once, then forks one writer per job read from stdin (one JSON object a
line), so each writer costs a fork instead of an import. It never connects to the database itself; each forked writer
does. The answer line says how the writer ended: ``signal`` (9 when it was killed),
``ok``, and the ``error`` it raised (type and message), its ``error_type`` (module and
name) and the file it was ``raised_in``.

A job: ``dataset``, ``call`` ("wavelet", "split", "recut", or "rename" to ``new_key``), ``key``,
``threshold``, ``limit`` (analyse the first N samples, or all), ``outcome`` (a file the
writer reports to), ``env`` (the checkpoint hooks of bridge/runs/faults.py), optionally
``kill_after`` (seconds after which this process SIGKILLs the writer, wherever it is) and
``ready``/``go`` files: the writer creates ``ready`` and starts only once ``go`` exists.
"""

import json
import os
import signal
import sys
import time
import traceback

import fiftyone as fo

import fiftyone_redundancy.api as fr


def write(job):
    dataset = fo.load_dataset(job["dataset"])
    view = dataset.limit(job["limit"]) if job.get("limit") else dataset
    if job.get("ready"):
        open(job["ready"], "w").close()
        while not os.path.exists(job["go"]):
            time.sleep(0.002)
    if job["call"] == "rename":
        fr.rename_run(dataset, job["key"], job["new_key"])
    elif job["call"] == "recut":
        fr.recut_run(dataset, job["key"], job["threshold"])
    elif job["call"] == "wavelet":
        fr.compute_wavelet_clusters(view, key=job["key"], threshold=job["threshold"], num_workers=1, progress=False, overwrite=True)
    else:
        fr.compute_split_similarity(view, key=job["key"], threshold=job["threshold"], num_workers=1, progress=False, overwrite=True)


def main():
    for line in sys.stdin:
        job = json.loads(line)
        pid = os.fork()
        if pid == 0:
            os.environ.update(job.get("env", {}))
            try:
                write(job)
                outcome = {"ok": True}
            except Exception as error:
                outcome = {
                    "ok": False,
                    "error": f"{type(error).__name__}: {error}",
                    "error_type": f"{type(error).__module__}.{type(error).__qualname__}",
                    "raised_in": traceback.extract_tb(error.__traceback__)[-1].filename,
                }
            # whole or absent, should the writer be killed while reporting
            with open(job["outcome"] + ".part", "w") as handle:
                json.dump(outcome, handle)
            os.replace(job["outcome"] + ".part", job["outcome"])
            os._exit(0)  # no atexit cleanup of FiftyOne's in a forked writer
        if job.get("kill_after") is not None:
            time.sleep(job["kill_after"])
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        answer = {"signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0}
        if os.path.exists(job["outcome"]):
            with open(job["outcome"]) as handle:
                answer.update(json.load(handle))
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
