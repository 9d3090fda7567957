"""Create the study the spiral objective expects: python create_study.py --server HOST:PORT"""

import argparse

from scipy import stats

from rung.client import Client

parser = argparse.ArgumentParser()
parser.add_argument("--server", default="127.0.0.1:50051")
parser.add_argument("--study", default="spirals")
args = parser.parse_args()

with Client(args.server) as client:
    client.create_study(
        args.study,
        space={"lr": stats.loguniform(1e-3, 0.1), "hidden": stats.randint(8, 128), "batch_size": [32, 64, 128]},
        scheduler="asha", r_min=1, r_max=9, eta=3, max_trials=20,
    )
print(f"study {args.study} created; now start workers with --max-epochs 9")
