/* Recursive doubling over persistent MPI requests (see cb_rd.h). Every step
 * exchanges whole vectors with the partner rank ^ mask and adds; a rank
 * r >= p2 hands its vector to r - p2 first and gets the sum back last. */
#include "cb_rd.h"

#include <string.h>
#include "cb_mem.h"
#include "cb_mpi.h"

#define CB_RD_MAX_STEPS 32
#define CB_RD_TAG 4242

struct cb_rd {
    int rank, np, count;
    float *acc;          /* (count) running sum */
    float *in;           /* (count) partner's contribution */
    int n_steps;
    MPI_Request steps[CB_RD_MAX_STEPS][2]; /* (recv, send) per step */
    MPI_Request fold_in, fold_out;         /* non-power-of-two ranks: in and out */
    int fold_role;       /* 0 none, 1: receives from rank + p2, 2: sends to rank - p2 */
};

cb_status_t cb_rd_create(MPI_Comm comm, int count, cb_rd_t **rd_p)
{
    cb_status_t st = CB_OK;
    cb_rd_t *c = cb_alloc(sizeof *c, 1, "recursive doubling");
    if (!c)
        return CB_ERR_NOMEM;
    for (int s = 0; s < CB_RD_MAX_STEPS; s++)
        c->steps[s][0] = c->steps[s][1] = MPI_REQUEST_NULL;
    c->fold_in = c->fold_out = MPI_REQUEST_NULL;
    MPI_Comm_rank(comm, &c->rank);
    MPI_Comm_size(comm, &c->np);
    c->count = count;
    c->acc = cb_alloc(sizeof(float) * (size_t)count, 1, "allreduce buffer");
    c->in = cb_alloc(sizeof(float) * (size_t)count, 1, "allreduce buffer");
    if (!c->acc || !c->in) {
        st = CB_ERR_NOMEM;
        goto fail;
    }
    int p2 = 1;
    while (p2 * 2 <= c->np)
        p2 *= 2;
    if (c->rank >= p2) {
        c->fold_role = 2;
        if ((st = CB_MPI(MPI_Send_init(c->acc, count, MPI_FLOAT, c->rank - p2, CB_RD_TAG, comm, &c->fold_out))) != CB_OK ||
            (st = CB_MPI(MPI_Recv_init(c->acc, count, MPI_FLOAT, c->rank - p2, CB_RD_TAG, comm, &c->fold_in))) != CB_OK)
            goto fail;
    } else {
        if (c->rank + p2 < c->np) {
            c->fold_role = 1;
            if ((st = CB_MPI(MPI_Recv_init(c->in, count, MPI_FLOAT, c->rank + p2, CB_RD_TAG, comm, &c->fold_in))) != CB_OK ||
                (st = CB_MPI(MPI_Send_init(c->acc, count, MPI_FLOAT, c->rank + p2, CB_RD_TAG, comm, &c->fold_out))) != CB_OK)
                goto fail;
        }
        for (int mask = 1; mask < p2; mask <<= 1) {
            int partner = c->rank ^ mask, s = c->n_steps++;
            if ((st = CB_MPI(MPI_Recv_init(c->in, count, MPI_FLOAT, partner, CB_RD_TAG + s + 1, comm, &c->steps[s][0]))) != CB_OK ||
                (st = CB_MPI(MPI_Send_init(c->acc, count, MPI_FLOAT, partner, CB_RD_TAG + s + 1, comm, &c->steps[s][1]))) != CB_OK)
                goto fail;
        }
    }
    *rd_p = c;
    return CB_OK;
fail:
    cb_rd_free(c);
    return st;
}

static void add_into(float *acc, const float *in, int n)
{
    for (int i = 0; i < n; i++)
        acc[i] += in[i];
}

static cb_status_t start_wait(MPI_Request *r)
{
    cb_status_t st = CB_MPI(MPI_Start(r));
    return st != CB_OK ? st : CB_MPI(MPI_Wait(r, MPI_STATUS_IGNORE));
}

cb_status_t cb_rd_allreduce(cb_rd_t *c, float *buf)
{
    cb_status_t st;
    const int count = c->count;
    if (c->np == 1)
        return CB_OK;
    memcpy(c->acc, buf, sizeof(float) * (size_t)count);
    if (c->fold_role == 2) {
        /* Hand the contribution to rank - p2, get the sum back. */
        if ((st = start_wait(&c->fold_out)) != CB_OK || (st = start_wait(&c->fold_in)) != CB_OK)
            return st;
        memcpy(buf, c->acc, sizeof(float) * (size_t)count);
        return CB_OK;
    }
    if (c->fold_role == 1) {
        if ((st = start_wait(&c->fold_in)) != CB_OK)
            return st;
        add_into(c->acc, c->in, count);
    }
    for (int s = 0; s < c->n_steps; s++) {
        /* Both partners add the same two vectors (a + b == b + a), so every
         * rank ends with the same bits. */
        if ((st = CB_MPI(MPI_Startall(2, c->steps[s]))) != CB_OK ||
            (st = CB_MPI(MPI_Waitall(2, c->steps[s], MPI_STATUSES_IGNORE))) != CB_OK)
            return st;
        add_into(c->acc, c->in, count);
    }
    if (c->fold_role == 1 && (st = start_wait(&c->fold_out)) != CB_OK)
        return st;
    memcpy(buf, c->acc, sizeof(float) * (size_t)count);
    return CB_OK;
}

int cb_rd_count(const cb_rd_t *rd) { return rd->count; }

void cb_rd_free(cb_rd_t *c)
{
    if (!c)
        return;
    for (int s = 0; s < CB_RD_MAX_STEPS; s++)
        for (int j = 0; j < 2; j++)
            if (c->steps[s][j] != MPI_REQUEST_NULL)
                MPI_Request_free(&c->steps[s][j]);
    if (c->fold_in != MPI_REQUEST_NULL)
        MPI_Request_free(&c->fold_in);
    if (c->fold_out != MPI_REQUEST_NULL)
        MPI_Request_free(&c->fold_out);
    cb_free(c->in);
    cb_free(c->acc);
    cb_free(c);
}
