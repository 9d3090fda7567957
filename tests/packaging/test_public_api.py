"""The SDK's public names are exactly the intended ones, and each is importable."""

import rung.client


def test_client_exports_exactly_the_sdk():
    assert sorted(rung.client.__all__) == [
        "Categorical", "Client", "Decision", "FiniteRange", "Float", "Int", "RECOMMENDED", "Study", "Trial",
        "TrialLost",
    ]
    for name in rung.client.__all__:
        assert getattr(rung.client, name) is not None
