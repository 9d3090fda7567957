"""An objective of your own for `rung worker`: an MLP classifying interleaved spirals.

    cd examples
    rung worker --server HOST:PORT --study spirals --max-epochs 9 \\
        --objective spiral_objective.train:make_objective --objective-option points=3000

See train.py; `create_study.py` creates a matching study.
"""
