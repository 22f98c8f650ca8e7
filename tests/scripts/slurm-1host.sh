#!/bin/sh
# Slurm on one emulated host: each scripts/slurm/*.sbatch, two tasks.
NODES=1 TASKS_PER_NODE=2 PREFIX_LETTERS=o
. "$(dirname "$0")/slurm-jobs.sh"
