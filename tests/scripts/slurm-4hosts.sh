#!/bin/sh
# Slurm across four emulated hosts: each scripts/slurm/*.sbatch with sbatch -N 4.
NODES=4 TASKS_PER_NODE=1 PREFIX_LETTERS=f
. "$(dirname "$0")/slurm-jobs.sh"
