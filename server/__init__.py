"""The rung server: rpc servicer -> study service -> durable journal."""
