/* The UCX collective layer under MPI: every algorithm, sizes that are
 * multiples of nothing, consecutive calls of different sizes and algorithms;
 * every rank's result must equal, bit for bit, the rank-order sum of every
 * rank's (non-integer, regenerated) input. `--corrupt` flips one bit of one
 * rank's result before the comparison, so the check must fail. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cb.h"
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

int main(int argc, char **argv)
{
    cb_status_t st = cb_mpi_init(&argc, &argv, "test_ucoll");
    if (st != CB_OK)
        return 1;
    const char *tls = NULL;
    int corrupt = 0, rounds = 2;
    const cb_opt_t opts[] = {
        { "tls", 0, CB_OPT_STRING, &tls, "LIST", "UCX transports (default: UCX_TLS)", 0, -1, NULL },
        { "corrupt", 0, CB_OPT_FLAG, &corrupt, NULL, "flip a bit of the last rank's result (must fail)", 1, 0, NULL },
        { "rounds", 0, CB_OPT_INT, &rounds, "N", "passes over the sizes", 1, 100, NULL },
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
        printf("# %d ranks over %s\n", np, cb_ucoll_describe(c));
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
    return cb_mpi_finalize(st);
}
