"""np's benchmarks: ``python -m bench`` runs them all and prints one table, each figure next
to a baseline measured in the same run. Not part of the pass/fail test suite."""
