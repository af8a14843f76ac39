"""What tests and benchmarks share that is not a fixture: signals, checkpoints, the CLI runner. Importable
from the repository root (`python -m benchmarks.speed`, and pytest puts the root on the path)."""
