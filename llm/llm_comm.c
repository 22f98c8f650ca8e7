/* The sum-allreduce of tensor parallelism: two per layer per token, so the
 * latency of small messages decides decode speed on a cluster. MPI_Allreduce
 * by default; "rd" is recursive doubling over persistent requests on
 * pre-allocated buffers (no per-call setup, no algorithm selection), used for
 * the decode message size and falling back to MPI_Allreduce for others. */
#include <string.h>
#include "llm.h"

const char *const llm_ar_names[] = { "mpi", "rd", NULL };

#define LLM_RD_MAX_STEPS 32

struct llm_comm {
    MPI_Comm comm;
    int rank, np;
    int algo;            /* llm_ar_t */
    double seconds;      /* time inside allreduce */
    /* recursive doubling, for messages of `count` floats */
    int count;
    int p2;              /* largest power of two <= np */
    float *acc;          /* (count) running sum */
    float *in;           /* (count) partner's contribution */
    int n_steps;
    MPI_Request steps[LLM_RD_MAX_STEPS][2]; /* (recv, send) per step */
    MPI_Request fold_in[2], fold_out[2];    /* non-power-of-two ranks: in and out */
    int fold_role;       /* 0 none, 1: receives from rank + p2, 2: sends to rank - p2 */
};

cb_status_t llm_comm_create(MPI_Comm comm, int algo, int small_count, llm_comm_t **comm_p)
{
    cb_status_t st;
    llm_comm_t *c = cb_alloc(sizeof *c, 1, "communicator");
    if (!c)
        return CB_ERR_NOMEM;
    c->comm = comm;
    c->algo = algo;
    for (int s = 0; s < LLM_RD_MAX_STEPS; s++)
        c->steps[s][0] = c->steps[s][1] = MPI_REQUEST_NULL;
    c->fold_in[0] = c->fold_out[0] = MPI_REQUEST_NULL;
    MPI_Comm_rank(comm, &c->rank);
    MPI_Comm_size(comm, &c->np);
    if (algo == LLM_AR_RD && c->np > 1) {
        c->count = small_count;
        c->acc = cb_alloc(sizeof(float) * (size_t)small_count, 1, "allreduce buffer");
        c->in = cb_alloc(sizeof(float) * (size_t)small_count, 1, "allreduce buffer");
        if (!c->acc || !c->in) {
            st = CB_ERR_NOMEM;
            goto fail;
        }
        int p2 = 1;
        while (p2 * 2 <= c->np)
            p2 *= 2;
        c->p2 = p2;
        const int tag = 4242;
        if (c->rank >= p2) {
            c->fold_role = 2;
            if ((st = CB_MPI(MPI_Send_init(c->acc, small_count, MPI_FLOAT, c->rank - p2, tag, comm, &c->fold_out[0]))) != CB_OK ||
                (st = CB_MPI(MPI_Recv_init(c->acc, small_count, MPI_FLOAT, c->rank - p2, tag, comm, &c->fold_in[0]))) != CB_OK)
                goto fail;
        } else {
            if (c->rank + p2 < c->np) {
                c->fold_role = 1;
                if ((st = CB_MPI(MPI_Recv_init(c->in, small_count, MPI_FLOAT, c->rank + p2, tag, comm, &c->fold_in[0]))) != CB_OK ||
                    (st = CB_MPI(MPI_Send_init(c->acc, small_count, MPI_FLOAT, c->rank + p2, tag, comm, &c->fold_out[0]))) != CB_OK)
                    goto fail;
            }
            for (int mask = 1; mask < p2; mask <<= 1) {
                int partner = c->rank ^ mask, s = c->n_steps++;
                if ((st = CB_MPI(MPI_Recv_init(c->in, small_count, MPI_FLOAT, partner, tag + s + 1, comm, &c->steps[s][0]))) != CB_OK ||
                    (st = CB_MPI(MPI_Send_init(c->acc, small_count, MPI_FLOAT, partner, tag + s + 1, comm, &c->steps[s][1]))) != CB_OK)
                    goto fail;
            }
        }
    }
    *comm_p = c;
    return CB_OK;
fail:
    llm_comm_free(c);
    return st;
}

static void add_into(float *acc, const float *in, int n)
{
    for (int i = 0; i < n; i++)
        acc[i] += in[i];
}

static cb_status_t rd_allreduce(llm_comm_t *c, float *buf, int count)
{
    cb_status_t st;
    memcpy(c->acc, buf, sizeof(float) * (size_t)count);
    if (c->fold_role == 2) {
        /* Hand the contribution to rank - p2, get the sum back. */
        if ((st = CB_MPI(MPI_Start(&c->fold_out[0]))) != CB_OK || (st = CB_MPI(MPI_Wait(&c->fold_out[0], MPI_STATUS_IGNORE))) != CB_OK ||
            (st = CB_MPI(MPI_Start(&c->fold_in[0]))) != CB_OK || (st = CB_MPI(MPI_Wait(&c->fold_in[0], MPI_STATUS_IGNORE))) != CB_OK)
            return st;
        memcpy(buf, c->acc, sizeof(float) * (size_t)count);
        return CB_OK;
    }
    if (c->fold_role == 1) {
        if ((st = CB_MPI(MPI_Start(&c->fold_in[0]))) != CB_OK || (st = CB_MPI(MPI_Wait(&c->fold_in[0], MPI_STATUS_IGNORE))) != CB_OK)
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
    if (c->fold_role == 1) {
        if ((st = CB_MPI(MPI_Start(&c->fold_out[0]))) != CB_OK || (st = CB_MPI(MPI_Wait(&c->fold_out[0], MPI_STATUS_IGNORE))) != CB_OK)
            return st;
    }
    memcpy(buf, c->acc, sizeof(float) * (size_t)count);
    return CB_OK;
}

cb_status_t llm_comm_allreduce(llm_comm_t *c, float *buf, int count)
{
    if (c->np == 1)
        return CB_OK;
    double t0 = cb_now();
    cb_status_t st;
    if (c->algo == LLM_AR_RD && count == c->count)
        st = rd_allreduce(c, buf, count);
    else
        st = CB_MPI(MPI_Allreduce(MPI_IN_PLACE, buf, count, MPI_FLOAT, MPI_SUM, c->comm));
    c->seconds += cb_now() - t0;
    return st;
}

double llm_comm_seconds(const llm_comm_t *c) { return c->seconds; }
void llm_comm_reset_time(llm_comm_t *c) { c->seconds = 0; }
MPI_Comm llm_comm_mpi(const llm_comm_t *c) { return c->comm; }

void llm_comm_free(llm_comm_t *c)
{
    if (!c)
        return;
    for (int s = 0; s < LLM_RD_MAX_STEPS; s++)
        for (int j = 0; j < 2; j++)
            if (c->steps[s][j] != MPI_REQUEST_NULL)
                MPI_Request_free(&c->steps[s][j]);
    if (c->fold_in[0] != MPI_REQUEST_NULL)
        MPI_Request_free(&c->fold_in[0]);
    if (c->fold_out[0] != MPI_REQUEST_NULL)
        MPI_Request_free(&c->fold_out[0]);
    cb_free(c->in);
    cb_free(c->acc);
    cb_free(c);
}
