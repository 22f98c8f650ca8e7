/* The UCX collective layer under MPI: every algorithm, sizes that are
 * multiples of nothing, consecutive calls of different sizes and algorithms;
 * every rank's result must equal, bit for bit, the rank-order sum of every
 * rank's (non-integer, regenerated) input. `--corrupt` flips one bit of one
 * rank's result before the comparison, so the check must fail. `--finalized
 * DIR`: every rank creates DIR/finalized.RANK once MPI_Finalize has returned,
 * so that tests/common/ucoll.sh can tell for itself that every rank finalized
 * (mpirun's own check misfires on a loaded machine: see ucoll.sh). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cb.h"
#include "cb_fsum.h"
#include "cb_ucoll.h"

/* Rank r's input element j of call k: a float of 24 random bits in [-1, 1). */
static float input_of(int r, int k, size_t j)
{
    uint64_t x = ((uint64_t)r * 0x9E3779B97F4A7C15ull) ^ ((uint64_t)k << 32) ^ (uint64_t)j;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return (float)((int64_t)(x >> 40) - (1 << 23)) / (float)(1 << 23);
}

/* cb_fsum's vector path against the plain C loop, bit for bit: 1 to 6
 * sources, lengths around every vector width, unaligned starts, out being
 * the first or the last source, values of every magnitude (denormals,
 * cancellations); and cb_fcopy_nt against memcpy. Local; 0 if all equal. */
static int fsum_check(void)
{
    enum { N = 1200, S = 6 };
    static float in[S][N + 16], out[N + 16], ref[N + 16], alias[N + 16];
    int bad = 0;
    for (int k = 0; k < S; k++)
        for (int j = 0; j < N + 16; j++) {
            float v = input_of(k + 100, j, (size_t)j);
            int e = (int)((j * 7 + k * 13) % 300) - 150; /* 2^-150..2^149 */
            in[k][j] = j % 11 == 0 ? -in[k > 0 ? k - 1 : 0][j] : __builtin_ldexpf(v, e);
        }
    static const size_t lens[] = { 0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 1000, N };
    for (int ns = 1; ns <= S; ns++)
        for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++)
            for (int off = 0; off < 3; off++) {
                size_t n = lens[li];
                const float *src[S];
                for (int k = 0; k < ns; k++)
                    src[k] = in[k] + off + k % 2;
                cb_fsum_ref(ref, src, ns, n);
                cb_fsum(out + off, src, ns, n);
                bad |= memcmp(out + off, ref, n * sizeof(float)) != 0;
                for (int last = 0; last < 2; last++) { /* out = src[0] or src[ns - 1] */
                    const float *asrc[S];
                    memcpy(asrc, src, sizeof asrc);
                    int a = last ? ns - 1 : 0;
                    memcpy(alias, src[a], n * sizeof(float));
                    asrc[a] = alias;
                    cb_fsum(alias, asrc, ns, n);
                    bad |= memcmp(alias, ref, n * sizeof(float)) != 0;
                }
                cb_fcopy_nt(out + off, src[0], n);
                __atomic_thread_fence(__ATOMIC_SEQ_CST);
                bad |= memcmp(out + off, src[0], n * sizeof(float)) != 0;
            }
    if (bad)
        cb_error("cb_fsum (%s) differs from the plain C loop", cb_fsum_isa());
    return bad;
}

int main(int argc, char **argv)
{
    cb_status_t st = cb_mpi_init(&argc, &argv, "test_ucoll");
    if (st != CB_OK)
        return 1;
    const char *tls = NULL, *finalized = NULL;
    int corrupt = 0, rounds = 2;
    const cb_opt_t opts[] = {
        { "tls", 0, CB_OPT_STRING, &tls, "LIST", "UCX transports (default: UCX_TLS)", 0, -1, NULL },
        { "corrupt", 0, CB_OPT_FLAG, &corrupt, NULL, "flip a bit of the last rank's result (must fail)", 1, 0, NULL },
        { "rounds", 0, CB_OPT_INT, &rounds, "N", "passes over the sizes", 1, 100, NULL },
        { "finalized", 0, CB_OPT_STRING, &finalized, "DIR", "create DIR/finalized.RANK after MPI_Finalize", 0, -1, NULL },
        { 0 },
    };
    const cb_cli_t cli = { "test_ucoll", "[options]", "Check the UCX allreduce algorithms bit for bit.", opts, NULL };
    cb_common_opts_t common = { 0 };
    st = cb_agree(cb_options_parse(&cli, argc, argv, &common, NULL), MPI_COMM_WORLD);
    if (st != CB_OK)
        return cb_mpi_finalize(st);

    /* Odd sizes, fewer elements than ranks, across the auto threshold. */
    static const size_t counts[] = { 1, 3, 2, 7, 1001, 17, 4099, 16411, 65537, 5, 0, 12289 };
    const int n_counts = (int)(sizeof counts / sizeof counts[0]);
    size_t max = 65537;
    int rank = cb_rank(), np = cb_nranks();
    cb_ucoll_t *c = NULL;
    if ((st = cb_ucoll_create(MPI_COMM_WORLD, tls, max, &c)) != CB_OK)
        return cb_mpi_finalize(st);
    if (rank == 0)
        printf("# %d ranks over %s\n# sums: cb_fsum %s\n", np, cb_ucoll_describe(c), cb_fsum_isa());
    if ((st = cb_agree(fsum_check() ? CB_ERR_CHECK : CB_OK, MPI_COMM_WORLD)) != CB_OK) {
        cb_ucoll_free(c);
        return cb_mpi_finalize(st);
    }
    float *buf = cb_alloc(max * sizeof(float), 0, "buffer"), *want = cb_alloc(max * sizeof(float), 0, "reference");
    st = buf && want ? CB_OK : CB_ERR_NOMEM;
    int k = 0, bad = 0;
    /* Algorithms change from call to call: they share the sequence. */
    for (int round = 0; round < rounds && st == CB_OK; round++)
        for (int i = 0; i < n_counts && st == CB_OK; i++)
            for (int a = 0; a < CB_UCOLL_COUNT && st == CB_OK; a++, k++) {
                int alg = (a + i + round) % CB_UCOLL_COUNT;
                size_t n = counts[i];
                for (size_t j = 0; j < n; j++) {
                    buf[j] = input_of(rank, k, j);
                    float s = input_of(0, k, j);
                    for (int r = 1; r < np; r++)
                        s += input_of(r, k, j);
                    want[j] = s;
                }
                st = cb_ucoll_allreduce(c, alg, buf, n);
                if (st == CB_OK && corrupt && rank == np - 1 && n > 2)
                    buf[n / 2] = -buf[n / 2] + 1.0f;
                if (st == CB_OK && memcmp(buf, want, n * sizeof(float)) != 0) {
                    size_t j = 0;
                    while (buf[j] == want[j] || (buf[j] != buf[j] && want[j] != want[j]))
                        j++;
                    if (!bad)
                        cb_error("%s (picked %s), %zu floats, call %d: element %zu is %.9g, the rank-order sum is %.9g",
                                 cb_ucoll_alg_names[alg], cb_ucoll_alg_names[cb_ucoll_pick(c, alg, n)], n, k, j,
                                 (double)buf[j], (double)want[j]);
                    bad = 1;
                }
            }
    if (st == CB_OK && bad)
        st = CB_ERR_CHECK;
    st = cb_agree(st, MPI_COMM_WORLD);
    if (st == CB_OK && rank == 0)
        printf("%d calls bitwise equal to the rank-order sum on every rank\n", k);
    cb_free(want);
    cb_free(buf);
    cb_ucoll_free(c);
    int rc = cb_mpi_finalize(st);
    if (finalized) { /* after MPI: a local file, the rank as MPI_Init gave it */
        char path[4096];
        snprintf(path, sizeof path, "%s/finalized.%d", finalized, rank);
        FILE *f = fopen(path, "w");
        if (!f || fclose(f) != 0) {
            fprintf(stderr, "test_ucoll: rank %d: cannot create %s: %s\n", rank, path, strerror(errno));
            return rc ? rc : 1;
        }
    }
    return rc;
}
