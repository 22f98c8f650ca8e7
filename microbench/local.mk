# microbench: latency, bandwidth, collectives, one-sided; over MPI and UCX.
