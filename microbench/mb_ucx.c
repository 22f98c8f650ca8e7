/* The UCX backend's set-up: one UCP context per transport set (UCX_TLS as
 * --tls asks), a worker and an endpoint to the pair peer, registered memory
 * and remote keys. MPI only carries worker addresses and packed keys. */
#include "mb_ucx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ================================================================ helpers */

cb_status_t mb_ucx_wait(mb_ucx_t *u, void *req, const char *what)
{
    if (req == NULL)
        return CB_OK;
    if (UCS_PTR_IS_ERR(req)) {
        cb_error("ucx %s: %s failed: %s", u->set, what, ucs_status_string(UCS_PTR_STATUS(req)));
        return CB_ERR_UCX;
    }
    ucs_status_t s;
    while ((s = ucp_request_check_status(req)) == UCS_INPROGRESS)
        ucp_worker_progress(u->worker);
    ucp_request_free(req);
    if (s != UCS_OK) {
        cb_error("ucx %s: %s failed: %s", u->set, what, ucs_status_string(s));
        return CB_ERR_UCX;
    }
    return CB_OK;
}

cb_status_t mb_ucx_reserve(mb_ucx_t *u, size_t send, size_t recv)
{
    cb_status_t st = CB_OK;
    if (u->active && send > u->scap) {
        cb_free(u->sbuf);
        u->scap = 0;
        if ((u->sbuf = cb_alloc(send, 1, "the UCX send buffer")) != NULL)
            u->scap = send;
        else
            st = CB_ERR_NOMEM;
    }
    if (u->active && st == CB_OK && recv > u->rcap) {
        cb_free(u->rbuf);
        u->rcap = 0;
        if ((u->rbuf = cb_alloc(recv, 1, "the UCX receive buffer")) != NULL)
            u->rcap = recv;
        else
            st = CB_ERR_NOMEM;
    }
    return cb_agree(st, u->comm);
}

/* Swap `len` bytes of `mine` for the peer's, lengths first. Local to the
 * pair. *theirs_p is malloc'd. */
static cb_status_t swap_blob(mb_ucx_t *u, const void *mine, size_t len, void **theirs_p, size_t *len_p)
{
    unsigned long long l = len, their_len = 0;
    cb_status_t st = CB_MPI(MPI_Sendrecv(&l, 1, MPI_UNSIGNED_LONG_LONG, u->peer, 11, &their_len, 1,
                                         MPI_UNSIGNED_LONG_LONG, u->peer, 11, u->comm, MPI_STATUS_IGNORE));
    if (st != CB_OK)
        return st;
    if (their_len > (1u << 24)) {
        cb_error("ucx %s: the peer sent a %llu-byte address or key", u->set, their_len);
        return CB_ERR_UCX;
    }
    void *theirs = malloc(their_len ? their_len : 1);
    if (!theirs) {
        cb_error("cannot allocate %llu bytes for the peer's UCX address", their_len);
        return CB_ERR_NOMEM;
    }
    st = CB_MPI(MPI_Sendrecv(mine, (int)len, MPI_BYTE, u->peer, 12, theirs, (int)their_len, MPI_BYTE,
                             u->peer, 12, u->comm, MPI_STATUS_IGNORE));
    if (st != CB_OK) {
        free(theirs);
        return st;
    }
    *theirs_p = theirs;
    *len_p = their_len;
    return CB_OK;
}

cb_status_t mb_ucx_barrier(mb_ucx_t *u)
{
    MPI_Request req;
    int done = 0;
    cb_status_t st = CB_MPI(MPI_Ibarrier(u->comm, &req));
    while (st == CB_OK && !done) {
        if (u->worker)
            ucp_worker_progress(u->worker);
        st = CB_MPI(MPI_Test(&req, &done, MPI_STATUS_IGNORE));
        if (!done && !u->active) {
            struct timespec pause = { 0, 200000 }; /* idle: leave the cores to the pair */
            nanosleep(&pause, NULL);
        }
    }
    return st;
}

/* ================================================================ active messages */

static ucs_status_t am_arrived(void *arg, const void *header, size_t header_length, void *data,
                               size_t length, const ucp_am_recv_param_t *param)
{
    mb_ucx_t *u = arg;
    u->am_length = length;
    u->am_arrived = 1;
    if (param->recv_attr & UCP_AM_RECV_ATTR_FLAG_RNDV) {
        /* A rendezvous: `data` is a descriptor; the receiver fetches the
         * bytes with ucp_am_recv_data_nbx once outside this callback. */
        u->am_desc = data;
        return UCS_INPROGRESS;
    }
    /* Eager: the bytes are valid during this call only. */
    /* A zero-length message may come with data == NULL. */
    if (length > 0 && length <= u->rcap)
        memcpy(u->rbuf, data, length);
    return UCS_OK;
}

/* ================================================================ instance */

/* A UCP context over the transports `tls` ("tcp,cma"; NULL: the
 * environment's). Local. */
static ucs_status_t context_open(const char *tls, ucp_context_h *context_p)
{
    ucp_config_t *config = NULL;
    ucs_status_t s = ucp_config_read(NULL, NULL, &config);
    if (s != UCS_OK)
        return s;
    if (tls)
        s = ucp_config_modify(config, "TLS", tls);
    ucp_params_t params = {
        .field_mask = UCP_PARAM_FIELD_FEATURES,
        .features = UCP_FEATURE_TAG | UCP_FEATURE_RMA | UCP_FEATURE_AMO64 | UCP_FEATURE_AM,
    };
    if (s == UCS_OK)
        s = ucp_init(&params, config, context_p);
    ucp_config_release(config);
    return s;
}

/* UCX only warns about an unknown name in a list that has usable ones
 * ("tcp+foo"); open each name alone, so that every one must be usable. */
static cb_status_t set_check(const char *set)
{
    char name[MB_NAME_LEN];
    const char *p = set;
    if (!strchr(set, '+'))
        return CB_OK; /* one name: opening the set says it all */
    for (;;) {
        size_t len = strcspn(p, "+");
        snprintf(name, sizeof name, "%.*s", (int)len, p);
        ucp_context_h context = NULL;
        ucs_status_t s = context_open(name, &context);
        if (s != UCS_OK) {
            cb_error("--tls %s: UCX cannot open transport '%s': %s", set, name, ucs_status_string(s));
            return CB_ERR_UCX;
        }
        ucp_cleanup(context);
        if (p[len] == '\0')
            return CB_OK;
        p += len + 1;
    }
}

/* Context, worker, endpoint on the ranks of pair 0. Local to them; the
 * caller agrees. `set` "any" leaves UCX_TLS to the environment. */
static cb_status_t ucx_start(mb_ucx_t *u)
{
    char tls[MB_NAME_LEN];
    int any = strcmp(u->set, "any") == 0;
    snprintf(tls, sizeof tls, "%s", u->set);
    for (char *c = tls; *c; c++)
        if (*c == '+')
            *c = ',';
    if (!any && set_check(u->set) != CB_OK)
        return CB_ERR_UCX;
    ucs_status_t s = context_open(any ? NULL : tls, &u->context);
    if (s != UCS_OK) {
        u->context = NULL;
        cb_error("--tls %s: UCX cannot open this transport set: %s", u->set, ucs_status_string(s));
        return CB_ERR_UCX;
    }
    ucp_worker_params_t wparams = {
        .field_mask = UCP_WORKER_PARAM_FIELD_THREAD_MODE,
        .thread_mode = UCS_THREAD_MODE_SINGLE,
    };
    s = ucp_worker_create(u->context, &wparams, &u->worker);
    if (s != UCS_OK) {
        u->worker = NULL;
        cb_error("--tls %s: cannot create a UCX worker: %s", u->set, ucs_status_string(s));
        return CB_ERR_UCX;
    }
    ucp_am_handler_param_t am = {
        .field_mask = UCP_AM_HANDLER_PARAM_FIELD_ID | UCP_AM_HANDLER_PARAM_FIELD_CB | UCP_AM_HANDLER_PARAM_FIELD_ARG,
        .id = MB_UCX_AM_ID, .cb = am_arrived, .arg = u,
    };
    s = ucp_worker_set_am_recv_handler(u->worker, &am);
    if (s != UCS_OK) {
        cb_error("ucx %s: cannot set the active message handler: %s", u->set, ucs_status_string(s));
        return CB_ERR_UCX;
    }
    return CB_OK;
}

/* Exchange worker addresses with the peer and connect. Local to the pair. */
static cb_status_t ucx_connect(mb_ucx_t *u)
{
    ucp_address_t *addr = NULL;
    size_t len = 0, their_len = 0;
    void *theirs = NULL;
    ucs_status_t s = ucp_worker_get_address(u->worker, &addr, &len);
    if (s != UCS_OK) {
        cb_error("ucx %s: cannot get the worker address: %s", u->set, ucs_status_string(s));
        return CB_ERR_UCX;
    }
    cb_status_t st = swap_blob(u, addr, len, &theirs, &their_len);
    ucp_worker_release_address(u->worker, addr);
    if (st != CB_OK)
        return st;
    ucp_ep_params_t ep = {
        .field_mask = UCP_EP_PARAM_FIELD_REMOTE_ADDRESS | UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE,
        .address = theirs, .err_mode = UCP_ERR_HANDLING_MODE_NONE,
    };
    s = ucp_ep_create(u->worker, &ep, &u->ep);
    free(theirs);
    if (s != UCS_OK) {
        u->ep = NULL;
        cb_error("--tls %s: UCX cannot reach rank %d over this transport set: %s", u->set, u->peer,
                 ucs_status_string(s));
        return CB_ERR_UCX;
    }
    return CB_OK;
}

/* One small tag message each way: completes the wire-up. Local to the pair. */
static cb_status_t ucx_handshake(mb_ucx_t *u)
{
    uint64_t out = 0x6d62, in = 0;
    ucp_request_param_t p = { 0 };
    void *r = ucp_tag_recv_nbx(u->worker, &in, sizeof in, MB_UCX_TAG_ACK, (ucp_tag_t)-1, &p);
    cb_status_t st = mb_ucx_wait(u, ucp_tag_send_nbx(u->ep, &out, sizeof out, MB_UCX_TAG_ACK, &p), "handshake send");
    cb_status_t st2 = mb_ucx_wait(u, r, "handshake receive");
    return st != CB_OK ? st : st2;
}

static void ucx_close(void *inst)
{
    mb_ucx_t *u = inst;
    if (!u)
        return;
    /* Both sides finished their operations before closing. */
    mb_ucx_barrier(u);
    cb_error_clear();
    mb_ucx_mem_release(u, &u->rma); /* keys before the endpoint, memory before the context */
    if (u->ep) {
        ucp_request_param_t p = { .op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS, .flags = UCP_EP_CLOSE_FLAG_FORCE };
        mb_ucx_wait(u, ucp_ep_close_nbx(u->ep, &p), "endpoint close");
        cb_error_clear();
    }
    MPI_Barrier(u->comm);
    if (u->worker)
        ucp_worker_destroy(u->worker);
    if (u->context)
        ucp_cleanup(u->context);
    cb_free(u->rbuf);
    cb_free(u->sbuf);
    free(u);
}

/* Open over `set` between rank 0 and its pair peer. Collective; agrees. */
static cb_status_t ucx_create(MPI_Comm comm, const char *set, mb_ucx_t **u_p)
{
    cb_status_t st = CB_OK;
    mb_ucx_t *u = calloc(1, sizeof *u);
    if (!u) {
        cb_error("cannot allocate the UCX backend");
        st = CB_ERR_NOMEM;
    }
    if ((st = cb_agree(st, comm)) != CB_OK)
        goto fail;
    u->comm = comm;
    MPI_Comm_rank(comm, &u->rank);
    MPI_Comm_size(comm, &u->n_ranks);
    u->peer = mb_pair_peer(u->rank, u->n_ranks);
    u->active = u->peer >= 0 && (u->rank == 0 || u->rank == u->n_ranks / 2);
    snprintf(u->set, sizeof u->set, "%s", set ? set : "any");
    if (u->active)
        st = ucx_start(u);
    if ((st = cb_agree(st, comm)) != CB_OK)
        goto fail;
    if (u->active)
        st = ucx_connect(u);
    if ((st = cb_agree(st, comm)) != CB_OK)
        goto fail;
    if (u->active)
        st = ucx_handshake(u);
    if ((st = cb_agree(st, comm)) != CB_OK)
        goto fail;
    *u_p = u;
    return CB_OK;
fail:
    if (u)
        ucx_close(u);
    return st;
}

static cb_status_t ucx_open(const mb_params_t *params, const char *set, void **inst_p)
{
    mb_ucx_t *u = NULL;
    cb_status_t st = ucx_create(params->comm, set, &u);
    if (st == CB_OK)
        *inst_p = u;
    return st;
}

/* ================================================================ description */

/* The transports of the endpoint's lanes, from ucp_ep_print_info:
 * "tcp/lo rma_bw am" lines condense to "tcp/lo, cma/memory". Local. */
static void lanes_of(mb_ucx_t *u, char *buf, size_t len)
{
    char *text = NULL;
    size_t text_len = 0;
    buf[0] = '\0';
    FILE *f = open_memstream(&text, &text_len);
    if (!f) {
        snprintf(buf, len, "unknown");
        return;
    }
    ucp_ep_print_info(u->ep, f);
    fclose(f);
    size_t used = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char *lane = strstr(line, "lane[");
        if (!lane)
            continue;
        /* "lane[0]:  3:tcp/lo.0 md[1] ...": the first word holding a '/' */
        char *colon = strchr(lane, ':');
        if (!colon)
            continue;
        char word[96];
        int off = 0;
        for (char *p = colon + 1; sscanf(p, "%95s%n", word, &off) == 1; p += off) {
            char *slash = strchr(word, '/');
            if (!slash)
                continue;
            char *tl = strchr(word, ':') ? strchr(word, ':') + 1 : word;
            if (!strstr(buf, tl) && used < len)
                used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? " " : "", tl);
            break;
        }
    }
    free(text);
    if (!buf[0])
        snprintf(buf, len, "no lanes");
}

static cb_status_t ucx_describe(void *inst, char *buf, size_t len)
{
    mb_ucx_t *u = inst;
    char lanes[384] = "";
    if (u->rank == 0 && u->ep)
        lanes_of(u, lanes, sizeof lanes);
    snprintf(buf, len, "ucx %s: %s", u->set, lanes);
    return CB_OK;
}

/* ================================================================ registered memory */

cb_status_t mb_ucx_mem_exchange(mb_ucx_t *u, size_t len, mb_ucx_mem_t *mem)
{
    cb_status_t st = CB_OK;
    void *packed = NULL, *theirs = NULL;
    uint8_t *blob = NULL;
    size_t packed_len = 0, their_len = 0, blob_len = 0;
    memset(mem, 0, sizeof *mem);
    if (u->active) {
        /* UCX allocates, so that shared-memory transports can map it. */
        ucp_mem_map_params_t mp = {
            .field_mask = UCP_MEM_MAP_PARAM_FIELD_ADDRESS | UCP_MEM_MAP_PARAM_FIELD_LENGTH |
                          UCP_MEM_MAP_PARAM_FIELD_FLAGS,
            .address = NULL, .length = len ? len : 1, .flags = UCP_MEM_MAP_ALLOCATE,
        };
        ucs_status_t s = ucp_mem_map(u->context, &mp, &mem->local);
        ucp_mem_attr_t attr = { .field_mask = UCP_MEM_ATTR_FIELD_ADDRESS };
        if (s == UCS_OK && (s = ucp_mem_query(mem->local, &attr)) != UCS_OK)
            ucp_mem_unmap(u->context, mem->local);
        if (s != UCS_OK) {
            mem->local = NULL;
            cb_error("ucx %s: cannot allocate %zu registered bytes: %s", u->set, len, ucs_status_string(s));
            st = CB_ERR_UCX;
        } else {
            mem->addr = attr.address;
            memset(mem->addr, 0, len);
        }
        if (st == CB_OK && (s = ucp_rkey_pack(u->context, mem->local, &packed, &packed_len)) != UCS_OK) {
            packed = NULL;
            cb_error("ucx %s: cannot pack a remote key: %s", u->set, ucs_status_string(s));
            st = CB_ERR_UCX;
        }
        /* The key travels behind the buffer's address. */
        blob_len = sizeof(uint64_t) + packed_len;
        if (st == CB_OK && (blob = malloc(blob_len)) == NULL) {
            cb_error("cannot allocate a %zu-byte remote key", blob_len);
            st = CB_ERR_NOMEM;
        }
        if (st == CB_OK) {
            uint64_t a = (uint64_t)(uintptr_t)mem->addr;
            memcpy(blob, &a, sizeof a);
            memcpy(blob + sizeof a, packed, packed_len);
        }
    }
    if ((st = cb_agree(st, u->comm)) != CB_OK)
        goto out;
    if (u->active)
        st = swap_blob(u, blob, blob_len, &theirs, &their_len);
    if (st == CB_OK && u->active && their_len < sizeof(uint64_t)) {
        cb_error("ucx %s: the peer's remote key is too short", u->set);
        st = CB_ERR_UCX;
    }
    if (st == CB_OK && u->active) {
        memcpy(&mem->remote_addr, theirs, sizeof(uint64_t));
        ucs_status_t s = ucp_ep_rkey_unpack(u->ep, (uint8_t *)theirs + sizeof(uint64_t), &mem->rkey);
        if (s != UCS_OK) {
            mem->rkey = NULL;
            cb_error("ucx %s: cannot unpack the peer's remote key: %s", u->set, ucs_status_string(s));
            st = CB_ERR_UCX;
        }
    }
    st = cb_agree(st, u->comm);
out:
    free(theirs);
    free(blob);
    if (packed)
        ucp_rkey_buffer_release(packed);
    if (st != CB_OK)
        mb_ucx_mem_release(u, mem);
    return st;
}

void mb_ucx_mem_release(mb_ucx_t *u, mb_ucx_mem_t *mem)
{
    if (mem->rkey)
        ucp_rkey_destroy(mem->rkey);
    if (mem->local)
        ucp_mem_unmap(u->context, mem->local);
    memset(mem, 0, sizeof *mem);
}

cb_status_t mb_ucx_rma_mem(mb_ucx_t *u, size_t len, mb_ucx_mem_t **mem_p)
{
    cb_status_t st = CB_OK;
    /* every rank sees the same lengths: the decision is the same everywhere */
    if (u->rma_len != len) {
        mb_ucx_mem_release(u, &u->rma);
        u->rma_len = 0;
        if ((st = mb_ucx_mem_exchange(u, len, &u->rma)) != CB_OK)
            return st;
        u->rma_len = len;
    } else if (u->rma.addr) {
        memset(u->rma.addr, 0, len); /* a fresh start, as a new mapping's */
    }
    *mem_p = &u->rma;
    return CB_OK;
}

const mb_backend_t mb_backend_ucx = { "ucx", ucx_open, ucx_describe, mb_ucx_run, ucx_close };
