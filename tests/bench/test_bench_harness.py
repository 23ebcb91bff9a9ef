"""A tiny run of each benchmark, to check that the harness works. No timing is asserted:
benchmarks are measurements, and a slow or loaded machine must never fail a test."""

import pytest

from service.cli import main
from support import jpeg_bytes, make_settings, require_samples

pytestmark = pytest.mark.slow


def test_pipeline_bench_compares_seed_and_service_on_the_same_frames(capsys):
    samples = require_samples()
    assert main(["bench", "pipeline", "--quick", "--samples", str(samples)]) == 0
    output = capsys.readouterr().out
    assert "| frame | size | seed cpu | service cpu |" in output
    assert "| obama-480p.jpg | service |" in output  # the decode/detect/classify/store split
    assert "seed faces the service missed (of the sizes it must find): 0" in output


@pytest.mark.parametrize("detector", ["hog", "stub"])
def test_the_service_pipeline_is_timed_on_frames_decoded_as_the_service_does(detector, tmp_path):
    """hog and stub never look at colour, so the service decodes their frames straight to gray."""
    from bench.pipelines import ServicePipeline, Store

    settings = make_settings(f"sqlite:///{tmp_path / 'bench.db'}", tmp_path, detector=detector)
    pipeline, shapes = ServicePipeline(settings), []
    detect = pipeline.detector.inner.detect
    pipeline.detector.inner.detect = lambda frame: shapes.append(frame.shape) or detect(frame)
    run = pipeline.run(jpeg_bytes(64, 48), Store(settings))
    assert shapes == [(48, 64)]
    assert set(run.laps) == {"decode", "detect", "classify", "store"}


def test_query_bench_answers_like_the_baseline_code(capsys):
    assert main(["bench", "query", "--quick"]) == 0
    output = capsys.readouterr().out
    assert "| sqlite | city overview | current |" in output
    assert "counts and index identical to the current ones: before (63309c4) yes" in output


def test_ingest_bench_stores_what_it_sent(capsys):
    samples = require_samples()
    assert main(["bench", "ingest", "--quick", "--samples", str(samples)]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("| sqlite | stub | 4 | 20 |"))
    memory_start, memory_end = (float(mb) for mb in row.split("|")[12].split("-"))
    assert memory_start > 50 and memory_end > 50  # a server with its model resident, read from /proc


def test_classifier_latency_bench_times_the_served_file_a_float32_baseline_and_other_runtimes():
    """Also the served file through TensorFlow's interpreter, the runtime before LiteRT."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    command = [sys.executable, "bench/latency_classifier.py", "--model", "models/paper", "--batches", "1,4",
               "--repeats", "3", "--core", "-1", "--float32-baseline", "--alternatives", "--tensorflow-interpreter"]
    report = json.loads(subprocess.run(command, cwd=root, capture_output=True, text=True, check=True).stdout)
    # each alternative runtime was checked against the Keras model's probabilities before it was timed
    for results in (report["results"], report["float32_results"], report["opencv_dnn_results"],
                    report["tf_graph_results"], report["served_tf_interpreter_results"]):
        assert [r["batch"] for r in results] == [1, 4]
        assert all(0 < r["ms_per_face_median"] <= r["ms_per_call_median"] for r in results)


def test_crop_framing_bench_finds_fer_faces_and_scores_each_framing():
    import json
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    val = root.parent / "shared" / "datasets" / "fer2013" / "val"
    if not val.is_dir():
        pytest.skip(f"{val} is absent (FER2013 is not shipped with the code)")
    command = [sys.executable, "bench/crop_framing.py", "--data", str(val), "--limit", "60",
               "--margins", "0.1,0.4", "--lifts", "0,0.1", "--compare-model", "models/paper", "--intervals"]
    report = json.loads(subprocess.run(command, cwd=root, capture_output=True, text=True, check=True).stdout)
    assert report["faces"] == 60 and 30 <= report["found"] <= 60
    framings = [(0.1, 0), (0.1, 0.1), (0.4, 0), (0.4, 0.1)]
    assert [(row["margin"], row["lift"]) for row in report["framings"]] == framings
    assert all(0 <= row["accuracy"] <= 1 for row in report["framings"])
    per_class = report["found_per_class"]
    assert sum(c["faces"] for c in per_class.values()) == 60
    assert sum(c["found"] for c in per_class.values()) == report["found"]
    row = report["framings"][0]  # precision, recall and F1 agree; the share is of the found faces
    f1 = 2 * row["happy_vs_rest_precision"] * row["happy_vs_rest_recall"] / (
        row["happy_vs_rest_precision"] + row["happy_vs_rest_recall"])
    assert row["happy_vs_rest_f1"] == pytest.approx(f1)
    assert row["true_happy_share"] == pytest.approx(per_class["happy"]["found"] / report["found"])
    # the other model scored on the same crops: the paper's network decides otherwise than the default
    compared = report["compare_model"]
    assert compared["version"] != report["version"]
    assert [(r["margin"], r["lift"]) for r in compared["framings"]] == framings
    assert [r["true_happy_share"] for r in compared["framings"]] == [r["true_happy_share"] for r in report["framings"]]
    assert [r["accuracy"] for r in compared["framings"]] != [r["accuracy"] for r in report["framings"]]
    # the adjusted share divides by the model's stored rates, not by rates measured on these faces
    compared_row = compared["framings"][0]
    assert row["adjusted_happy_share"] != pytest.approx(row["true_happy_share"], abs=1e-9)
    assert row["intervals"]["adjusted_happy_share"] != compared_row["intervals"]["adjusted_happy_share"]
    low, high = row["intervals"]["happy_vs_rest_f1"]
    assert low <= row["happy_vs_rest_f1"] <= high and high - low > 0
    difference = compared["framings"][0]["primary_minus_this"]["accuracy"]
    assert difference["difference"] == pytest.approx(row["accuracy"] - compared["framings"][0]["accuracy"])
    assert difference["interval"][0] <= difference["difference"] <= difference["interval"][1]
    change = report["framings"][0]["accuracy_change"]  # margin 0.1 against the default baseline, 0.2
    assert change["interval"][0] <= change["difference"] <= change["interval"][1]
    # what the HOG detector's framing rests on: its box is narrower than a FER face and sits low
    assert 0 < report["fitted_margin"]["median"] < 0.2 and report["centre_offset"]["down"] > 0.03


def test_statistics_bench_prints_every_table_old_beside_new(capsys):
    assert main(["bench", "statistics", "--quick"]) == 0
    out = capsys.readouterr().out
    for heading in ("ci95 coverage", "adjusted_index interval coverage", "trend false alarms", "trend power",
                    "trend between days: false alarms", "trend between days: power", "range ci95 coverage with days alike",
                    "trend cost over a year of hourly periods"):
        assert heading in out
    assert "| 30 days by day | seen 20 |" in out and "| hourly AR(1) 0.8, daily rhythm |" in out
    assert "| AR(1) 0.6, weekly rhythm, 8 weeks | 56 |" in out and "| AR(1) 0.8 | yes | 90 days |" in out
    assert "new points 40" in out  # 40 quick days of hours reach the trend as 40 daily points


def test_agent_bench_counts_the_people_of_its_composed_video(capsys):
    import os

    require_samples()
    cores = os.sched_getaffinity(0)
    assert main(["bench", "agent", "--quick"]) == 0
    assert os.sched_getaffinity(0) == cores  # pinned to one core only while it measured
    row = next(line for line in capsys.readouterr().out.splitlines()
               if line.startswith("| blazeface | 640x360 | 64 |"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    truth, counted, sightings = int(cells[7]), int(cells[8]), int(cells[9])
    assert counted == truth == 2 and sightings > 5 * counted


def test_soak_bench_answers_every_body_as_expected_and_samples_each_workers_memory(capsys, tmp_path):
    samples = require_samples()
    assert main(["bench", "soak", "--quick", "--samples", str(samples), "--out", str(tmp_path)]) == 0
    output = capsys.readouterr().out
    assert "| frames | worker 1 RSS MiB | worker 2 RSS MiB |" in output
    assert "60 frames in" in output and "unexpected answers: 0" in output
    rows = [line.split("|")[1:-1] for line in output.splitlines() if line.startswith("| 60 |")]
    assert rows and all(float(mb) > 50 for mb in rows[0][1:])  # two workers, each with its model resident
    assert (tmp_path / "soak_rss.png").stat().st_size > 0
    kinds = [line for line in output.splitlines() if line.startswith("worker ") and "heap" in line]
    assert len(kinds) == 2 and all("anon" in line and "file" in line and "threads" in line for line in kinds)


def test_memory_kinds_find_a_large_touched_block_among_anonymous_maps():
    """The soak's breakdown of a worker's memory: 64 MiB written by this process shows up as
    anonymous memory (a block that large is mapped on its own), and the kinds add up to VmRSS."""
    import os

    import numpy as np

    from bench.server import _own_resident_kib, memory_kinds_mib

    before = memory_kinds_mib(os.getpid())
    block = np.ones(64 * 1024 * 1024, dtype=np.uint8)
    after = memory_kinds_mib(os.getpid())
    assert after["anon"] - before["anon"] >= 60 and abs(after["file"] - before["file"]) < 8
    assert after["threads"] >= 1
    total = after["heap"] + after["anon"] + after["file"]
    assert abs(total - _own_resident_kib(os.getpid()) / 1024) < 0.05 * total
    del block


def test_footprint_bench_measures_a_live_worker(capsys):
    """One server start, the first frame and one more: start-up time, memory from /proc, and the
    libraries mapped (none of TensorFlow's)."""
    import json

    from bench import footprint

    assert footprint.main(["--runs", "1", "--frames", "1", "--samples", str(require_samples()), "--json"]) == 0
    lines = capsys.readouterr().out.splitlines()
    run = json.loads(lines[0])
    assert run["first_frame_faces"] == 1 and run["more_frames_faces"] >= 1
    assert 0 < run["ready_s"] and 50 < run["rss_ready_mb"] <= run["peak_mb"]
    assert run["mapped"]["tensorflow"] == 0 and run["mapped"]["ai_edge_litert"] > 0
    assert any(line.startswith("| median |") for line in lines)


def test_allocator_release_bench_times_each_frame_and_its_release(capsys):
    from bench import allocator_release

    assert allocator_release.main(["--rounds", "1", "--samples", str(require_samples())]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [line.split("|")[1:-1] for line in lines if line.startswith("| ") and not line.startswith(("| frame", "| ---"))]
    assert len(rows) == 3 * len(list(require_samples().glob("*.jpg")))  # JPEG, PNG and 4000 px of each
    assert all(float(decode) > 0 and float(release) >= 0 for _, decode, release in rows)
    assert lines[-1].startswith("release per frame: median ") and lines[-1].endswith("(30 frames)")


def test_detect_bench_scores_each_detector_on_faces_of_known_size(capsys):
    assert main(["bench", "detect", "--quick", "--repeat", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = {line.split("|")[1].strip(): [cell.strip() for cell in line.strip("|").split("|")]
            for line in lines if line.startswith("| seed") or line.startswith("| hog") or line.startswith("| blazeface")}
    assert set(rows) == {"seed", "hog", "blazeface"}
    header = next(line for line in lines if line.startswith("| detector"))
    columns = [cell.strip() for cell in header.strip("|").split("|")]
    found = {(name, size): rows[name][columns.index(f"street {size} px")] for name in rows for size in (48, 96)}
    # the quick street is 1920 px wide: HOG (width capped at 1280) finds faces from 120 px, the
    # seed (the whole frame, one upsample) from about 40, BlazeFace (capped at 576) from 60
    assert found["hog", 48] == "0/2" and found["seed", 48] == "2/2" and found["blazeface", 96] == "2/2"
    assert rows["blazeface"][columns.index("street false")] == "0"
