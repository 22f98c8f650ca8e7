/* Test helper for interruption. Two modes:
 *   slow_writer -o FILE [--rows N]   append a row every 50 ms (N rows, default 1000)
 *   slow_writer --check FILE STATUS MIN_ROWS
 *                                    read FILE back; exit 0 if its status is STATUS
 *                                    and /test/rows has at least MIN_ROWS rows */
#include <hdf5.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cb.h"

typedef struct {
    int64_t index;
    double value;
} row_t;

static const cb_column_t columns[] = {
    CB_COLUMN(row_t, index, CB_COL_INT64, "index", NULL),
    CB_COLUMN(row_t, value, CB_COL_DOUBLE, "value", "%.1f"),
};

static int check(const char *path, const char *want_status, long min_rows)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        fprintf(stderr, "check: cannot open %s\n", path);
        return 1;
    }
    int rc = 1;
    char *status = NULL;
    hid_t a = H5Aopen(f, "status", H5P_DEFAULT);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    if (a >= 0)
        H5Aread(a, t, &status);
    hid_t d = H5Dopen2(f, "test/rows", H5P_DEFAULT);
    hsize_t dims[1] = { 0 };
    if (d >= 0) {
        hid_t s = H5Dget_space(d);
        H5Sget_simple_extent_dims(s, dims, NULL);
        H5Sclose(s);
        /* every row readable and in order */
        row_t *rows = calloc(dims[0] + 1, sizeof *rows);
        hid_t m = H5Tcreate(H5T_COMPOUND, sizeof(row_t));
        H5Tinsert(m, "index", HOFFSET(row_t, index), H5T_NATIVE_INT64);
        H5Tinsert(m, "value", HOFFSET(row_t, value), H5T_NATIVE_DOUBLE);
        int ordered = dims[0] == 0 || H5Dread(d, m, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows) >= 0;
        for (hsize_t i = 0; ordered && i < dims[0]; i++)
            ordered = rows[i].index == (int64_t)i && rows[i].value == 2.0 * (double)i;
        H5Tclose(m);
        free(rows);
        H5Dclose(d);
        if (!ordered) {
            fprintf(stderr, "check: rows of %s are not the rows written\n", path);
            goto out;
        }
    }
    printf("status=%s rows=%llu\n", status ? status : "(none)", (unsigned long long)dims[0]);
    rc = !(status && strcmp(status, want_status) == 0 && (long)dims[0] >= min_rows);
out:
    if (status)
        H5free_memory(status);
    H5Tclose(t);
    if (a >= 0)
        H5Aclose(a);
    H5Fclose(f);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "--check") == 0)
        return check(argv[2], argv[3], atol(argv[4]));

    cb_status_t st = cb_mpi_init(&argc, &argv, "slow_writer");
    if (st != CB_OK)
        return 1;
    int rows = 1000;
    const cb_opt_t opts[] = {
        { "rows", 0, CB_OPT_INT, &rows, "N", "rows to write", 1, 1e6, NULL },
        { 0 },
    };
    const cb_cli_t cli = { "slow_writer", "[options]", "Append a row every 50 ms.", opts, NULL };
    cb_common_opts_t common = { 0 };
    cb_results_t *res = NULL;
    cb_table_t *table = NULL;
    st = cb_agree(cb_options_parse(&cli, argc, argv, &common, NULL), MPI_COMM_WORLD);
    if (st != CB_OK)
        return cb_mpi_finalize(st);
    st = cb_results_open("slow_writer", &common, argc, argv, MPI_COMM_WORLD, &res);
    if (st != CB_OK)
        return cb_mpi_finalize(st);
    st = cb_table_create(res, "/test/rows", columns, 2, sizeof(row_t), CB_TABLE_PRINT, &table);
    for (int i = 0; st == CB_OK && i < rows; i++) {
        row_t r = { i, 2.0 * i };
        /* The ranks are in MPI when the signal comes, as in a real run; each
         * row is a loop point of the orderly stop (cb_signal.h). */
        st = cb_agree(cb_table_append(table, &r), MPI_COMM_WORLD);
        struct timespec ts = { 0, 50 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    st = cb_agree(st, MPI_COMM_WORLD);
    cb_results_close(res, st);
    return cb_mpi_finalize(st);
}
