/* The table of tests: every benchmark microbench runs is one row here, driven
 * by the engine over the backend of its layer. Adding a test is adding a row
 * (and the operation to its backend), never a new main(). */
#include "mb.h"

#include <string.h>

#define KIB ((size_t)1024)

/* name, description, layer, op, metric, flags, min size, max size (0: none),
 * granule (sizes rounded down to a multiple) */
const mb_test_t mb_tests[] = {
    /* MPI point to point, between rank i and rank i + np/2 */
    { "latency", "MPI ping-pong latency (half round trip), pair 0", MB_LAYER_MPI, MB_OP_PINGPONG, MB_METRIC_LAT, MB_TEST_PAIRS, 0, 0, 1 },
    { "bw", "MPI bandwidth: a window of non-blocking sends, pair 0", MB_LAYER_MPI, MB_OP_BW, MB_METRIC_BW, MB_TEST_PAIRS, 1, 0, 1 },
    { "bibw", "MPI bidirectional bandwidth: windows both ways at once, pair 0", MB_LAYER_MPI, MB_OP_BIBW, MB_METRIC_BW, MB_TEST_PAIRS, 1, 0, 1 },
    { "mbw_mr", "MPI multi-pair bandwidth and message rate: after a barrier every pair sends a window at once; all pairs' bytes over the senders' mean time (osu_mbw_mr)", MB_LAYER_MPI, MB_OP_MSGRATE, MB_METRIC_BW, MB_TEST_PAIRS | MB_TEST_ALL | MB_TEST_MEAN, 1, 0, 1 },
    { "latency_mt", "MPI ping-pong latency (half round trip) to a peer with --threads receiving threads, which take the messages in turn, each MPI_Recv then MPI_Send of what it received; pair 0, MPI_THREAD_MULTIPLE (osu_latency_mt); given by name only, not in all", MB_LAYER_MPI, MB_OP_PINGPONG_MT, MB_METRIC_LAT, MB_TEST_PAIRS | MB_TEST_NAMED, 0, 0, 1 },
    { "multi_lat", "MPI ping-pong latency (half round trip) of every pair at once, mean over pairs (osu_multi_lat)", MB_LAYER_MPI, MB_OP_PINGPONG, MB_METRIC_LAT, MB_TEST_PAIRS | MB_TEST_ALL | MB_TEST_MEAN, 0, 0, 1 },
    /* MPI collectives over every rank: the slowest rank's time per call */
    { "allreduce", "allreduce of floats (sum) by each --alg (default MPI_Allreduce), slowest rank per call", MB_LAYER_COLL, MB_OP_ALLREDUCE, MB_METRIC_LAT, MB_TEST_ALL, 4, 0, 4 },
    { "decode", "one token's allreduces for a --shape (1 + 2 per layer, of dim floats) by each --alg, back to back: us per token, slowest rank", MB_LAYER_COLL, MB_OP_DECODE, MB_METRIC_LAT, MB_TEST_ALL | MB_TEST_FIXED, 4, 0, 4 },
    { "iallreduce", "MPI_Iallreduce of floats (sum) + MPI_Wait, alone (pure) and with a computation as long as this rank's pure time between them (overlap); overlap_pct as osu_iallreduce", MB_LAYER_MPI, MB_OP_IALLREDUCE, MB_METRIC_LAT, MB_TEST_ALL, 4, 0, 4 },
    { "bcast", "MPI_Bcast from rank 0, slowest rank per call", MB_LAYER_MPI, MB_OP_BCAST, MB_METRIC_LAT, MB_TEST_ALL, 1, 0, 1 },
    { "allgather", "MPI_Allgather, size per rank, slowest rank per call", MB_LAYER_MPI, MB_OP_ALLGATHER, MB_METRIC_LAT, MB_TEST_ALL, 1, 0, 1 },
    { "alltoall", "MPI_Alltoall, size per rank pair, slowest rank per call", MB_LAYER_MPI, MB_OP_ALLTOALL, MB_METRIC_LAT, MB_TEST_ALL, 1, 0, 1 },
    { "reduce_scatter", "MPI_Reduce_scatter of floats (sum), size = the whole vector as OSU counts it (each rank receives its 1/np share), slowest rank per call", MB_LAYER_MPI, MB_OP_REDUCE_SCATTER, MB_METRIC_LAT, MB_TEST_ALL, 4, 0, 4 },
    { "init", "MPI_Init time of this run's start-up, each rank's own (osu_init): one sample per rank; mean over ranks and the slowest", MB_LAYER_MPI, MB_OP_INIT, MB_METRIC_LAT, MB_TEST_ALL | MB_TEST_FIXED, 0, 0, 1 },
    { "barrier", "MPI_Barrier, slowest rank per call", MB_LAYER_MPI, MB_OP_BARRIER, MB_METRIC_LAT, MB_TEST_ALL | MB_TEST_FIXED, 0, 0, 1 },
    /* MPI-3 one-sided, passive target (MPI_Win_lock_all + flush), pair 0 */
    { "put_lat", "MPI_Put + MPI_Win_flush latency, pair 0", MB_LAYER_MPI, MB_OP_PUT_LAT, MB_METRIC_LAT, MB_TEST_PAIRS, 1, 0, 1 },
    { "get_lat", "MPI_Get + MPI_Win_flush latency, pair 0", MB_LAYER_MPI, MB_OP_GET_LAT, MB_METRIC_LAT, MB_TEST_PAIRS, 1, 0, 1 },
    { "put_bw", "MPI_Put bandwidth: a window of puts, one flush, pair 0", MB_LAYER_MPI, MB_OP_PUT_BW, MB_METRIC_BW, MB_TEST_PAIRS, 1, 0, 1 },
    { "get_bw", "MPI_Get bandwidth: a window of gets, one flush, pair 0", MB_LAYER_MPI, MB_OP_GET_BW, MB_METRIC_BW, MB_TEST_PAIRS, 1, 0, 1 },
    { "fop_lat", "MPI_Fetch_and_op (atomic add of an int64) + flush latency, pair 0 (osu_fop_latency)", MB_LAYER_MPI, MB_OP_ATOMIC_LAT, MB_METRIC_LAT, MB_TEST_PAIRS | MB_TEST_FIXED, 8, 8, 8 },
    /* UCP directly; MPI only exchanges worker addresses and remote keys */
    { "ucx_tag_lat", "UCP tag ping-pong latency (half round trip), pair 0", MB_LAYER_UCX, MB_OP_PINGPONG, MB_METRIC_LAT, MB_TEST_PAIRS, 0, 0, 1 },
    { "ucx_tag_bw", "UCP tag bandwidth: a stream of sends, a window in flight, pair 0", MB_LAYER_UCX, MB_OP_BW, MB_METRIC_BW, MB_TEST_PAIRS, 1, 0, 1 },
    { "ucx_put_lat", "UCP put + flush latency on a registered remote buffer, pair 0", MB_LAYER_UCX, MB_OP_PUT_LAT, MB_METRIC_LAT, MB_TEST_PAIRS, 1, 0, 1 },
    { "ucx_put_pingpong", "UCP put ping-pong latency (half round trip): each side puts into the other's buffer and polls it, pair 0", MB_LAYER_UCX, MB_OP_PUT_PINGPONG, MB_METRIC_LAT, MB_TEST_PAIRS, 1, 0, 1 },
    { "ucx_get_lat", "UCP get + flush latency on a registered remote buffer, pair 0", MB_LAYER_UCX, MB_OP_GET_LAT, MB_METRIC_LAT, MB_TEST_PAIRS, 1, 0, 1 },
    { "ucx_put_bw", "UCP put bandwidth: a window of puts, one flush, pair 0", MB_LAYER_UCX, MB_OP_PUT_BW, MB_METRIC_BW, MB_TEST_PAIRS, 1, 0, 1 },
    { "ucx_get_bw", "UCP get bandwidth: a window of gets, one flush, pair 0", MB_LAYER_UCX, MB_OP_GET_BW, MB_METRIC_BW, MB_TEST_PAIRS, 1, 0, 1 },
    { "ucx_atomic_lat", "UCP atomic fetch-and-add (uint64) latency, pair 0", MB_LAYER_UCX, MB_OP_ATOMIC_LAT, MB_METRIC_LAT, MB_TEST_PAIRS | MB_TEST_FIXED, 8, 8, 8 },
    { "ucx_am_lat", "UCP active message ping-pong latency (half round trip), pair 0", MB_LAYER_UCX, MB_OP_AM_LAT, MB_METRIC_LAT, MB_TEST_PAIRS, 0, 0, 1 },
    /* local memory */
    { "memcpy", "memcpy bandwidth of one core (rank 0) and of all ranks at once", MB_LAYER_LOCAL, MB_OP_MEMCPY, MB_METRIC_BW, MB_TEST_ALL, 1, 0, 1 },
};

const int mb_n_tests = (int)(sizeof mb_tests / sizeof mb_tests[0]);

const mb_test_t *mb_test_find(const char *name)
{
    if (strcmp(name, "acc_lat") == 0) /* the old name of fop_lat */
        name = "fop_lat";
    if (strcmp(name, "msgrate") == 0) /* the old name of mbw_mr */
        name = "mbw_mr";
    for (int i = 0; i < mb_n_tests; i++)
        if (strcmp(mb_tests[i].name, name) == 0)
            return &mb_tests[i];
    return NULL;
}
