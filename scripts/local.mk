# scripts: setup, test, run-suite, slurm/, cluster/.
