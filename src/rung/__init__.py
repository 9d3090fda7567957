"""rung: an asynchronous ask/tell hyperparameter-optimization server.

Layers (dependencies point downward only):
  rung.client / rung.workers  - talk to the server over gRPC
  rung.server                 - rpc servicer -> study service -> SQLite journal
  rung.core                   - pure searchers, schedulers and search spaces
"""

__version__ = "0.1.0"
