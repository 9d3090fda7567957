"""Draws docs/images/tensorboard.png and docs/images/mlflow.png: a small study run by
`rung serve --tensorboard-dir --mlflow-uri` with SDK workers, then TensorBoard's HParams
view and MLflow's run list in headless chromium (Debian's, driven by playwright).

    .venv/bin/python docs/images/make_tracking_screenshots.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO / "tests"), str(REPO / "tests" / "tracking")]

from mlflow import MlflowClient
from playwright.sync_api import sync_playwright
from support import ServerProcess
from tracking_support import MlflowServer, Workers, create_study, free_port

OUT = Path(__file__).resolve().parent
STUDY = "lenet-asha"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        mlflow = MlflowServer(tmp / "mlflow").start()
        logdir = tmp / "tb"
        server = ServerProcess(tmp / "rung.db", [
            "--tensorboard-dir", str(logdir), "--mlflow-uri", mlflow.uri]).start()
        board = None
        try:
            create_study(server.address, STUDY, trials=18)
            Workers(server.address, STUDY, n=3, epoch_seconds=0.02).start().join()
            time.sleep(8)  # the mirrors' last batches and sweeps
            port = free_port()
            board = subprocess.Popen(
                [str(Path(sys.executable).parent / "tensorboard"), "--logdir", str(logdir),
                 "--host", "127.0.0.1", "--port", str(port)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(8)
            experiment = MlflowClient(mlflow.uri).get_experiment_by_name(STUDY)
            assert experiment is not None
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium",
                                            args=["--no-sandbox", "--disable-gpu"])
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                page.goto(f"http://127.0.0.1:{port}/#hparams")
                page.wait_for_timeout(6000)
                tab = page.get_by_text("Parallel Coordinates View")
                if tab.count():
                    tab.first.click()
                    page.wait_for_timeout(4000)
                page.screenshot(path=str(OUT / "tensorboard.png"))
                page.goto(f"{mlflow.uri}/#/experiments/{experiment.experiment_id}/runs")
                page.wait_for_timeout(6000)
                for label in ("Model training", "Got it"):  # the classic view, no pop-ups
                    button = page.get_by_text(label, exact=True)
                    if button.count():
                        button.first.click()
                        page.wait_for_timeout(2000)
                page.goto(f"{mlflow.uri}/#/experiments/{experiment.experiment_id}/runs")
                page.wait_for_timeout(6000)
                for close in page.locator("button[aria-label='Close']").all():
                    if close.is_visible():
                        close.click()
                page.wait_for_timeout(1000)
                expand = page.locator("button[data-component-id$='runnamecellrenderer.tsx_46']")
                if expand.count():  # the parent run's children
                    expand.first.click()
                    page.wait_for_timeout(2000)
                page.screenshot(path=str(OUT / "mlflow.png"))
                browser.close()
        finally:
            if board is not None:
                board.terminate()
                board.wait()
            server.terminate()
            mlflow.stop()


if __name__ == "__main__":
    main()
