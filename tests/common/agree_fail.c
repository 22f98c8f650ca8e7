/* Test helper for agreement on failure: `agree_fail --fail-rank R` makes rank
 * R fail alone; every rank must exit non-zero with one line on stderr. */
#include <stdio.h>

#include "cb.h"

int main(int argc, char **argv)
{
    cb_status_t st = cb_mpi_init(&argc, &argv, "agree_fail");
    if (st != CB_OK)
        return 1;
    int fail_rank = -1;
    const cb_opt_t opts[] = {
        { "fail-rank", 0, CB_OPT_INT, &fail_rank, "R", "the rank that fails (-1: none)", -1, 1 << 20, NULL },
        { 0 },
    };
    const cb_cli_t cli = { "agree_fail", "[options]", "Fail on one rank; agree.", opts, NULL };
    cb_common_opts_t common = { 0 };
    st = cb_agree(cb_options_parse(&cli, argc, argv, &common, NULL), MPI_COMM_WORLD);
    if (st != CB_OK)
        return cb_mpi_finalize(st);
    if (cb_rank() == fail_rank) {
        cb_error("cannot open model.bin: synthetic failure on rank %d", fail_rank);
        st = CB_ERR_IO;
    } else if (fail_rank >= 0) {
        /* A second, later failure elsewhere: must not be printed too. */
        cb_error("a second failure that must stay quiet");
        st = cb_rank() == fail_rank + 1 ? CB_ERR_INPUT : CB_OK;
    }
    st = cb_agree(st, MPI_COMM_WORLD);
    if (st == CB_OK && cb_rank() == 0)
        printf("all ranks passed\n");
    return cb_mpi_finalize(st);
}
