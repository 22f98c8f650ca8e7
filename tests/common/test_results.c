/* The HDF5 results writer, read back through the HDF5 API: root attributes,
 * /ranks, /env, a table of every column type, status, reopening a table. */
#include <hdf5.h>
#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>

#include "cb.h"
#include "../cb_check.h"

typedef struct {
    int32_t size_B;
    int64_t iters;
    double lat_avg_us;
    char transport[16];
} row_t;

static const cb_column_t columns[] = {
    CB_COLUMN(row_t, size_B, CB_COL_INT32, "Size(B)", NULL),
    CB_COLUMN(row_t, iters, CB_COL_INT64, "Iters", NULL),
    CB_COLUMN(row_t, lat_avg_us, CB_COL_DOUBLE, "Avg(us)", "%.2f"),
    CB_COLUMN(row_t, transport, CB_COL_STRING, "Transport", NULL),
};

static char *read_str_attr(hid_t obj, const char *name)
{
    hid_t attr = H5Aopen(obj, name, H5P_DEFAULT);
    if (attr < 0)
        return NULL;
    hid_t type = H5Aget_type(attr);
    char *out = NULL;
    if (H5Tis_variable_str(type) > 0) {
        char *value = NULL;
        hid_t mem = H5Tcopy(H5T_C_S1);
        H5Tset_size(mem, H5T_VARIABLE);
        H5Tset_cset(mem, H5T_CSET_UTF8); /* HDF5 does not convert between character sets */
        if (H5Aread(attr, mem, &value) >= 0 && value) {
            out = strdup(value);
            H5free_memory(value);
        }
        H5Tclose(mem);
    }
    H5Tclose(type);
    H5Aclose(attr);
    return out;
}

static int attr_equals(hid_t obj, const char *name, const char *want)
{
    char *v = read_str_attr(obj, name);
    int ok = v && strcmp(v, want) == 0;
    if (!ok)
        fprintf(stderr, "  attribute %s = '%s', want '%s'\n", name, v ? v : "(missing)", want);
    free(v);
    return ok;
}

static int attr_nonempty(hid_t obj, const char *name)
{
    char *v = read_str_attr(obj, name);
    int ok = v && v[0];
    if (!ok)
        fprintf(stderr, "  attribute %s is empty or missing\n", name);
    free(v);
    return ok;
}

int main(int argc, char **argv)
{
    /* /env records the environment the process started with: start again with
     * a marker in it (and see below that a variable set later is not recorded). */
    if (!getenv("UCX_TEST_MARKER")) {
        setenv("UCX_TEST_MARKER", "42", 1);
        execv("/proc/self/exe", argv);
        perror("execv");
        return 1;
    }
    setenv("OPENBLAS_SET_LATER", "1", 1);
    if (cb_mpi_init(&argc, &argv, "test_results") != CB_OK)
        return 1;
    char path[256];
    snprintf(path, sizeof path, "test_results-%d.h5", (int)getpid());

    cb_common_opts_t common = { .output = path, .format = CB_FORMAT_CSV };
    cb_results_t *res = NULL;
    CHECK(cb_results_open("test_results", &common, argc, argv, MPI_COMM_WORLD, &res) == CB_OK);
    if (!res)
        return cb_mpi_finalize(CB_ERR_INTERNAL) + 1;
    CHECK_STR(cb_results_path(res), path);
    CHECK(cb_results_set_str(res, "ucx_transports", "posix,cma") == CB_OK);
    CHECK(cb_results_set_int(res, "extra_int", 7) == CB_OK);

    cb_table_t *t = NULL;
    CHECK(cb_table_create(res, "/unit/latency", columns, 4, sizeof(row_t), CB_TABLE_PRINT, &t) == CB_OK);
    CHECK(cb_table_set_str(t, "transport", "test") == CB_OK);
    for (int i = 0; i < 5; i++) {
        row_t r = { .size_B = 1 << i, .iters = 1000 + i, .lat_avg_us = 0.5 * i };
        snprintf(r.transport, sizeof r.transport, "tl%d", i);
        CHECK(cb_table_append(t, &r) == CB_OK);
    }
    cb_results_close(res, CB_OK);
    MPI_Barrier(MPI_COMM_WORLD);

    /* Read it back. */
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECK(f >= 0);
    if (f >= 0) {
        CHECK(attr_equals(f, "schema", "clusterbench/1"));
        CHECK(attr_equals(f, "program", "test_results"));
        CHECK(attr_equals(f, "status", "complete"));
        CHECK(attr_equals(f, "ucx_transports", "posix,cma"));
        const char *must[] = { "version", "command_line", "started_utc", "finished_utc", "mpi_library",
                               "mpi_pml", "ucx_version", "blas", "hdf5_version", "compiler", "cpu_model" };
        for (size_t i = 0; i < sizeof must / sizeof must[0]; i++)
            CHECK(attr_nonempty(f, must[i]));
        int n_ranks = 0;
        hid_t a = H5Aopen(f, "n_ranks", H5P_DEFAULT);
        CHECK(a >= 0 && H5Aread(a, H5T_NATIVE_INT, &n_ranks) >= 0 && n_ranks == 1);
        if (a >= 0)
            H5Aclose(a);

        hid_t env = H5Gopen2(f, "env", H5P_DEFAULT);
        CHECK(env >= 0 && attr_equals(env, "UCX_TEST_MARKER", "42"));
        CHECK(env >= 0 && H5Aexists(env, "OPENBLAS_SET_LATER") == 0);
        if (env >= 0)
            H5Gclose(env);

        hid_t ranks = H5Dopen2(f, "ranks", H5P_DEFAULT);
        CHECK(ranks >= 0);
        if (ranks >= 0) {
            hid_t sp = H5Dget_space(ranks);
            hsize_t dims[1] = { 0 };
            H5Sget_simple_extent_dims(sp, dims, NULL);
            CHECK(dims[0] == 1);
            H5Sclose(sp);
            H5Dclose(ranks);
        }

        hid_t d = H5Dopen2(f, "unit/latency", H5P_DEFAULT);
        CHECK(d >= 0);
        if (d >= 0) {
            CHECK(attr_equals(d, "transport", "test"));
            hid_t sp = H5Dget_space(d);
            hsize_t dims[1] = { 0 };
            H5Sget_simple_extent_dims(sp, dims, NULL);
            CHECK(dims[0] == 5);
            H5Sclose(sp);
            /* Read by field name into a differently laid out struct: the fields are really named. */
            typedef struct { double lat; int64_t iters; char tl[16]; int32_t size; } back_t;
            hid_t m = H5Tcreate(H5T_COMPOUND, sizeof(back_t));
            H5Tinsert(m, "lat_avg_us", HOFFSET(back_t, lat), H5T_NATIVE_DOUBLE);
            H5Tinsert(m, "iters", HOFFSET(back_t, iters), H5T_NATIVE_INT64);
            hid_t s16 = H5Tcopy(H5T_C_S1);
            H5Tset_size(s16, 16);
            H5Tinsert(m, "transport", HOFFSET(back_t, tl), s16);
            H5Tinsert(m, "size_B", HOFFSET(back_t, size), H5T_NATIVE_INT32);
            back_t rows[5];
            CHECK(H5Dread(d, m, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows) >= 0);
            for (int i = 0; i < 5; i++) {
                char want[16];
                snprintf(want, sizeof want, "tl%d", i);
                CHECK(rows[i].size == (1 << i));
                CHECK(rows[i].iters == 1000 + i);
                CHECK_NEAR(rows[i].lat, 0.5 * i, 0);
                CHECK_STR(rows[i].tl, want);
            }
            H5Tclose(s16);
            H5Tclose(m);
            H5Dclose(d);
        }
        H5Fclose(f);
    }
    unlink(path);

    /* A column name used twice is refused (HDF5 would drop the second
     * column from the file without a word), and the file is not complete. */
    static const cb_column_t twice[] = {
        CB_COLUMN(row_t, size_B, CB_COL_INT32, "Size(B)", NULL),
        { "size_B", "Again", CB_COL_INT64, offsetof(row_t, iters), sizeof(int64_t), NULL, 0 },
    };
    char path2[256];
    snprintf(path2, sizeof path2, "test_results-twice-%d.h5", (int)getpid());
    cb_common_opts_t two = { .output = path2, .format = CB_FORMAT_CSV };
    CHECK(cb_results_open("test_results", &two, argc, argv, MPI_COMM_WORLD, &res) == CB_OK);
    if (res) {
        t = NULL;
        CHECK(cb_table_create(res, "/unit/twice", twice, 2, sizeof(row_t), 0, &t) == CB_ERR_INTERNAL);
        cb_results_close(res, CB_ERR_INTERNAL);
        hid_t f2 = H5Fopen(path2, H5F_ACC_RDONLY, H5P_DEFAULT);
        CHECK(f2 < 0 || !attr_equals(f2, "status", "complete"));
        if (f2 >= 0)
            H5Fclose(f2);
    }
    unlink(path2);

    /* A results folder that cannot be written is refused up front. */
    cb_common_opts_t bad = { .output = "/proc/no/such/dir/x.h5" };
    cb_results_t *none = NULL;
    CHECK(cb_results_open("test_results", &bad, argc, argv, MPI_COMM_WORLD, &none) == CB_ERR_IO);
    CHECK(none == NULL);

    /* --no-output: tables print, nothing is written. */
    cb_common_opts_t quiet = { .no_output = 1, .format = CB_FORMAT_JSON };
    CHECK(cb_results_open("test_results", &quiet, argc, argv, MPI_COMM_WORLD, &res) == CB_OK);
    CHECK(cb_results_path(res) == NULL);
    CHECK(cb_table_create(res, "/unit/x", columns, 4, sizeof(row_t), CB_TABLE_PRINT, &t) == CB_OK);
    row_t r = { 1, 2, 3.0, "j\"son" };
    CHECK(cb_table_append(t, &r) == CB_OK);
    cb_results_close(res, CB_OK);

    int failures = cb_check_exit();
    cb_mpi_finalize(CB_OK);
    return failures;
}
