/* llm: the program. Dispatches to the subcommands (bench, chat, generate,
 * inspect, tokenize); all but bench (llm_bench.c) live here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "llm.h"
#include "llm_tok.h"

/* ================================================================ tokenize */

/* A whole file (or stdin for "-") into memory. */
static cb_status_t read_all(const char *path, char **buf_p, size_t *len_p)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) {
        cb_error("cannot open %s", path);
        return CB_ERR_IO;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t k = fread(buf + n, 1, cap - n, f);
        n += k;
        if (n < cap)
            break;
        char *b = cap < ((size_t)1 << 30) ? realloc(buf, cap * 2) : NULL;
        if (!b) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = b;
        cap *= 2;
    }
    int err = ferror(f);
    if (f != stdin)
        fclose(f);
    if (!buf || err) {
        free(buf);
        cb_error("cannot read %s%s", path, buf ? "" : ": too big (1 GiB at most)");
        return buf ? CB_ERR_IO : CB_ERR_NOMEM;
    }
    *buf_p = buf;
    *len_p = n;
    return CB_OK;
}

/* A piece for --pieces: printable, with C escapes for the rest. */
static void print_piece(const char *p, size_t n)
{
    putchar('\'');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '\n') fputs("\\n", stdout);
        else if (c == '\t') fputs("\\t", stdout);
        else if (c == '\r') fputs("\\r", stdout);
        else if (c == '\\') fputs("\\\\", stdout);
        else if (c == '\'') fputs("\\'", stdout);
        else if (c < 0x20 || c == 0x7F) printf("\\x%02x", c);
        else putchar(c);
    }
    putchar('\'');
}

/* The built-in chat form of a tokenizer's template. */
static cb_status_t chat_form(const llm_tok_t *tok, const char *path, int *kind_p)
{
    size_t n;
    const char *t = llm_tok_chat_template(tok, &n);
    if (!t) {
        cb_error("%s has no chat template (tokenizer.chat_template): give one with --template", path);
        return CB_ERR_UNSUPPORTED;
    }
    if ((*kind_p = llm_chat_detect(t, n)) < 0) {
        cb_error("%s: its chat template is none of the built-in forms (chatml, qwen3, llama3, llama3.1, deepseek-v3); "
                 "name the form with --template if one fits", path);
        return CB_ERR_UNSUPPORTED;
    }
    return CB_OK;
}

/* Print the text of the ids in text[0..len) ("1,2,3"), whole characters
 * only, without the space SentencePiece put in front. Local. */
static cb_status_t tokenize_decode(const llm_tok_t *tok, const char *text, size_t len, int special)
{
    char *ids_text = malloc(len + 1);
    int *dv = NULL, dn = 0;
    if (!ids_text) {
        cb_error("out of memory");
        return CB_ERR_NOMEM;
    }
    memcpy(ids_text, text, len);
    ids_text[len] = 0;
    cb_status_t st = llm_parse_tokens(ids_text, llm_tok_n_vocab(tok), &dv, &dn);
    llm_utf8_stream_t us = { { 0 }, 0 };
    int lead = llm_tok_add_space_prefix(tok);
    for (int i = 0; st == CB_OK && i < dn; i++) {
        size_t pn;
        const char *p = llm_tok_piece(tok, dv[i], special, &pn);
        if (lead && llm_tok_type(tok, dv[i]) != LLM_TT_CONTROL) {
            if (pn > 0 && *p == ' ') {
                p++;
                pn--;
            }
            lead = 0;
        }
        char *out = malloc(3 * (pn + 4));
        if (!out) {
            cb_error("out of memory");
            st = CB_ERR_NOMEM;
            break;
        }
        fwrite(out, 1, llm_utf8_stream(&us, p, pn, out), stdout);
        free(out);
    }
    char tail[8];
    fwrite(tail, 1, llm_utf8_stream(&us, NULL, 0, tail), stdout);
    fflush(stdout);
    free(dv);
    free(ids_text);
    return st;
}

/* Print the ids (or, with `pieces`, id and text a line each) of text[0..len),
 * or of each of its NUL-separated texts. Local. */
static cb_status_t tokenize_encode(const llm_tok_t *tok, const char *text, size_t len, int null_sep, int add_bos,
                                   int special, int pieces, int verbose)
{
    cb_status_t st = CB_OK;
    llm_ids_t ids = { 0 };
    double t0 = cb_now(), t_enc = 0;
    long long n_tok = 0, n_text = 0;
    for (size_t a = 0; st == CB_OK && a <= len;) {
        size_t b = len;
        if (null_sep) {
            b = a;
            while (b < len && text[b])
                b++;
            if (b == len && a == len && len > 0)
                break; /* a trailing NUL ends the last text */
        }
        ids.n = 0;
        double te = cb_now();
        st = llm_tok_encode(tok, text + a, b - a, add_bos, special, &ids);
        t_enc += cb_now() - te;
        n_tok += ids.n;
        n_text++;
        for (int i = 0; st == CB_OK && i < ids.n; i++) {
            if (pieces) {
                size_t pn;
                const char *p = llm_tok_piece(tok, ids.v[i], 1, &pn);
                printf("%6d ", ids.v[i]);
                print_piece(p, pn);
                putchar('\n');
            } else {
                printf("%s%d", i ? " " : "", ids.v[i]);
            }
        }
        if (st == CB_OK && !pieces)
            putchar('\n');
        a = b + 1;
    }
    fflush(stdout);
    if (st == CB_OK && verbose)
        fprintf(stderr, "# %lld texts, %zu bytes, %lld tokens: encoding %.6f s (%.2f MB/s), in all %.6f s\n", n_text, len,
                n_tok, t_enc, t_enc > 0 ? (double)len / t_enc / 1e6 : 0.0, cb_now() - t0);
    llm_ids_free(&ids);
    return st;
}

cb_status_t llm_cmd_tokenize(int argc, char **argv)
{
    const char *model = NULL, *file = NULL;
    int pieces = 0, no_bos = 0, no_special = 0, null_sep = 0, chat = 0, decode = 0;
    cb_opt_t opts[] = {
        { "model", 'm', CB_OPT_STRING, &model, "FILE", "GGUF file with a tokenizer (tensors not needed)", 0, -1, NULL },
        { "file", 'f', CB_OPT_STRING, &file, "FILE", "read the text from FILE ('-': stdin) instead of the argument", 0, -1, NULL },
        { "pieces", 0, CB_OPT_FLAG, &pieces, NULL, "print each token's id and text on a line of its own", 0, -1, NULL },
        { "no-bos", 0, CB_OPT_FLAG, &no_bos, NULL, "do not add BOS (even where add_bos_token says so)", 0, -1, NULL },
        { "no-special", 0, CB_OPT_FLAG, &no_special, NULL, "treat special and control token texts as plain text", 0, -1, NULL },
        { "decode", 'd', CB_OPT_FLAG, &decode, NULL, "the other way: the text is token ids (\"1,2,3\"), print their text", 0, -1, NULL },
        { "chat-template", 0, CB_OPT_FLAG, &chat, NULL, "print which built-in chat form the file's template is, and exit", 0, -1, NULL },
        { "null-separated", '0', CB_OPT_FLAG, &null_sep, NULL, "the input holds texts separated by NUL bytes: one line of ids each", 0, -1, NULL },
        { 0 },
    };
    cb_cli_t cli = { "llm tokenize", "-m FILE [options] (TEXT | -f FILE)",
                     "Print the token ids of a text under the model's tokenizer, with BOS as the model asks\n"
                     "(or, with -d, the text of token ids).",
                     opts, "example: llm tokenize -m model.gguf --pieces \"Hello, world\"" };
    cb_common_opts_t common = { 0 };
    int first = 0;
    char *buf = NULL;
    size_t len = 0;
    llm_tok_t *tok = NULL;
    cb_status_t st = cb_options_parse(&cli, argc, argv, &common, &first);
    if (st == CB_OK && !model) {
        cb_error("a model is needed (-m FILE)");
        st = CB_ERR_USAGE;
    }
    if (st == CB_OK && !chat && (file ? first != argc : first + 1 != argc)) {
        cb_error(file ? "no text argument with -f" : "one text argument is needed (or -f FILE)");
        st = CB_ERR_USAGE;
    }
    /* Only rank 0 works; the others wait for its verdict. */
    if (st == CB_OK && cb_rank() == 0) {
        const char *text = file || chat ? NULL : argv[first];
        st = llm_tok_open(model, &tok);
        if (st == CB_OK && file && (st = read_all(file, &buf, &len)) == CB_OK)
            text = buf;
        else if (text)
            len = strlen(text);
        int kind;
        if (st == CB_OK && chat) {
            if ((st = chat_form(tok, model, &kind)) == CB_OK)
                printf("%s\n", llm_chat_names[kind]);
        } else if (st == CB_OK && decode) {
            st = tokenize_decode(tok, text, len, !no_special);
        } else if (st == CB_OK) {
            st = tokenize_encode(tok, text, len, null_sep, !no_bos && llm_tok_add_bos(tok), !no_special, pieces,
                                 common.verbose);
        }
    }
    free(buf);
    llm_tok_free(tok);
    return cb_agree(st, MPI_COMM_WORLD);
}

/* ================================================================ generate */

/* The tokenizer of the model for generate and chat, on every rank.
 * `need`: text is asked for, so no tokenizer is an error; otherwise a model
 * without one, or with one this program does not support, runs on ids
 * (*tok_p NULL). Malformed tokenizer data is refused either way. Local. */
static cb_status_t text_tokenizer(const llm_desc_t *desc, int need, llm_tok_t **tok_p)
{
    *tok_p = NULL;
    cb_status_t st = llm_tok_load(desc, tok_p);
    if (st == CB_OK && llm_tok_n_vocab(*tok_p) > desc->cfg.vocab) {
        cb_error("%s: the tokenizer has %d tokens but the model only %d rows of embeddings", desc->source,
                 llm_tok_n_vocab(*tok_p), desc->cfg.vocab);
        llm_tok_free(*tok_p);
        *tok_p = NULL;
        st = CB_ERR_INPUT;
    }
    if (!need && (st == CB_ERR_USAGE || st == CB_ERR_UNSUPPORTED)) {
        if (st == CB_ERR_UNSUPPORTED && cb_rank() == 0)
            cb_warn("%s; printing token ids", cb_error_message() ? cb_error_message() : "unsupported tokenizer");
        cb_error_clear();
        st = CB_OK;
    }
    return st;
}

/* Print token `id` on rank 0: its text, whole characters only, or its id. */
static void emit_token(const llm_tok_t *tok, llm_utf8_stream_t *us, int id, int first)
{
    if (!tok) {
        printf("%s%d", first ? "" : " ", id);
    } else {
        size_t n;
        const char *p = llm_tok_piece(tok, id, 0, &n);
        char out[3 * (64 + 4)];
        while (n > 0) {
            size_t k = n < 64 ? n : 64;
            fwrite(out, 1, llm_utf8_stream(us, p, k, out), stdout);
            p += k;
            n -= k;
        }
    }
    fflush(stdout);
}

cb_status_t llm_cmd_generate(int argc, char **argv)
{
    llm_model_opts_t mo = LLM_MODEL_OPTS_DEFAULT;
    const char *prompt = NULL, *prompt_ids = NULL, *dump = NULL;
    int n_predict = 16, batch = 512, list = 0, print_ids = 0, no_bos = 0, ignore_eos = 0;
    double temp = 0.0, top_p = 1.0;
    long long seed = 1;
    cb_opt_t opts[] = {
        LLM_MODEL_OPTS(mo),
        { "prompt", 'p', CB_OPT_STRING, &prompt, "TEXT", "prompt text, tokenized with the model's tokenizer", 0, -1, NULL },
        { "prompt-ids", 0, CB_OPT_STRING, &prompt_ids, "IDS", "prompt token ids, \"1,2,3\" (default 1 without -p)", 0, -1, NULL },
        { "n-predict", 'n', CB_OPT_INT, &n_predict, "N", "tokens to generate at most", 0, 1 << 20, NULL },
        { "batch", 'b', CB_OPT_INT, &batch, "N", "prompt tokens per forward step", 1, 1 << 16, NULL },
        { "temp", 0, CB_OPT_DOUBLE, &temp, "T", "temperature (0: greedy)", 0, 100, NULL },
        { "top-p", 0, CB_OPT_DOUBLE, &top_p, "P", "nucleus sampling mass (1: off)", 0, 1, NULL },
        { "seed", 's', CB_OPT_INT64, &seed, "N", "sampling seed", 0, 9e18, NULL },
        { "print-ids", 0, CB_OPT_FLAG, &print_ids, NULL, "print the generated token ids, not their text", 0, -1, NULL },
        { "no-bos", 0, CB_OPT_FLAG, &no_bos, NULL, "do not add BOS to a text prompt (even where add_bos_token says so)", 0, -1, NULL },
        { "ignore-eos", 0, CB_OPT_FLAG, &ignore_eos, NULL, "go on past end-of-generation tokens (EOS, EOT)", 0, -1, NULL },
        { "dump-logits", 0, CB_OPT_STRING, &dump, "FILE", "write each step's logits (float32) to FILE (rank 0)", 0, -1, NULL },
        { "list-shapes", 0, CB_OPT_FLAG, &list, NULL, "list the --shape presets and exit", 0, -1, NULL },
        { 0 },
    };
    cb_cli_t cli = { "llm generate", "(-m FILE | --shape NAME) [options]",
                     "Greedy or sampled generation. Streams the text as it comes, stopping at EOS/EOT or after -n\n"
                     "tokens; prints token ids instead for models without a tokenizer or with --print-ids.",
                     opts, "examples: mpirun -np 2 llm generate -m model.gguf -p \"Once upon a time\" -n 64\n"
                           "          llm generate -m stories260K.bin --prompt-ids 1,450,4996 -n 32" };
    cb_common_opts_t common = { 0 };
    int first = 0, *tokens = NULL, n_prompt = 0;
    llm_desc_t desc;
    llm_weights_t *w = NULL;
    llm_comm_t *comm = NULL;
    llm_run_t *run = NULL;
    llm_tok_t *tok = NULL;
    llm_ids_t ids = { 0 };
    float *logits = NULL;
    int *idx = NULL;
    FILE *df = NULL;

    cb_status_t st = cb_options_parse(&cli, argc, argv, &common, &first);
    if (st == CB_OK && first < argc) {
        cb_error("unexpected argument '%s'", argv[first]);
        st = CB_ERR_USAGE;
    }
    if (st == CB_OK && prompt && prompt_ids) {
        cb_error("-p (text) and --prompt-ids (ids) exclude each other");
        st = CB_ERR_USAGE;
    }
    if (st == CB_OK && list) {
        if (cb_rank() == 0)
            llm_shape_list(stdout);
        st = CB_DONE;
    }
    if ((st = cb_agree(st, MPI_COMM_WORLD)) != CB_OK)
        return st;
    if ((st = llm_model_setup(&mo, batch, &desc, &w, &comm, &run)) != CB_OK)
        return st;

    const int vocab = desc.cfg.vocab;
    if (prompt || desc.format == LLM_FMT_GGUF)
        st = text_tokenizer(&desc, prompt != NULL, &tok);
    if (st == CB_OK && prompt) {
        st = llm_tok_encode(tok, prompt, strlen(prompt), !no_bos && llm_tok_add_bos(tok), 1, &ids);
        tokens = ids.v;
        n_prompt = ids.n;
        ids.v = NULL;
        if (st == CB_OK && n_prompt == 0) {
            cb_error("the prompt is empty");
            st = CB_ERR_USAGE;
        }
    } else if (st == CB_OK) {
        st = llm_parse_tokens(prompt_ids ? prompt_ids : "1", vocab, &tokens, &n_prompt);
    }
    if (st == CB_OK && n_prompt + n_predict > llm_run_ctx(run)) {
        cb_error("prompt (%d) and tokens to generate (%d) exceed the context of %d (--ctx)", n_prompt, n_predict, llm_run_ctx(run));
        st = CB_ERR_USAGE;
    }
    if (st == CB_OK && cb_rank() == 0) {
        logits = cb_alloc(sizeof(float) * (size_t)vocab, 0, "logits");
        idx = cb_alloc(sizeof(int) * (size_t)vocab, 0, "sampler index");
        if (!logits || !idx)
            st = CB_ERR_NOMEM;
        else if (dump && !(df = fopen(dump, "wb"))) {
            cb_error("cannot write %s", dump);
            st = CB_ERR_IO;
        }
    }
    if ((st = cb_agree(st, MPI_COMM_WORLD)) != CB_OK)
        goto cleanup;

    llm_sampler_t sampler;
    llm_sampler_init(&sampler, (float)temp, (float)top_p, (uint64_t)seed);
    llm_utf8_stream_t us = { { 0 }, 0 };
    const llm_tok_t *out_tok = print_ids ? NULL : tok;
    int greedy = temp <= 0, pos = 0, next = 0, n_gen = 0;
    double t0 = cb_now();
    st = llm_forward(run, tokens, n_prompt, 0);
    pos = n_prompt;
    for (int i = 0; i < n_predict && st == CB_OK; i++) {
        if (greedy && !dump) {
            st = llm_argmax(run, &next);
        } else {
            st = llm_logits_gather(run, logits);
            if (st == CB_OK && cb_rank() == 0) {
                if (df && fwrite(logits, sizeof(float), (size_t)vocab, df) != (size_t)vocab)
                    cb_warn("cannot write %s", dump);
                next = llm_sample(&sampler, logits, vocab, idx);
            }
            if (st == CB_OK)
                st = CB_MPI(MPI_Bcast(&next, 1, MPI_INT, 0, MPI_COMM_WORLD));
        }
        if (st != CB_OK)
            break;
        /* The same token on every rank, so every rank stops together. */
        if (tok && !ignore_eos && llm_tok_is_eog(tok, next))
            break;
        if (cb_rank() == 0)
            emit_token(out_tok, &us, next, i == 0);
        n_gen++;
        if (i + 1 < n_predict) {
            st = llm_forward(run, &next, 1, pos);
            pos++;
        }
    }
    if (st != CB_OK)
        cb_abort(st); /* a failure inside the forward pass cannot be agreed on */
    double dt = cb_now() - t0;
    if (cb_rank() == 0) {
        char tail[8];
        fwrite(tail, 1, llm_utf8_stream(&us, NULL, 0, tail), stdout);
        printf("\n");
        if (!common.quiet)
            fprintf(stderr, "# %d prompt + %d generated tokens in %.3f s on %d ranks (%s kernels)\n",
                    n_prompt, n_gen, dt, cb_nranks(), llm_kernels_name());
    }

cleanup:
    if (df)
        fclose(df);
    cb_free(idx);
    cb_free(logits);
    free(tokens);
    llm_ids_free(&ids);
    llm_tok_free(tok);
    llm_run_free(run);
    llm_comm_free(comm);
    llm_weights_free(w);
    llm_desc_free(&desc);
    return st;
}

/* ================================================================ chat */

/* Rank 0 reads a line of the terminal (or pipe) and every rank gets it:
 * *line_p NULL at end of input. Collective over MPI_COMM_WORLD. */
static cb_status_t chat_read_line(char **line_p)
{
    long long n = -1;
    char *line = NULL;
    if (cb_rank() == 0) {
        size_t cap = 0;
        ssize_t k = getline(&line, &cap, stdin);
        if (k >= 0) {
            while (k > 0 && (line[k - 1] == '\n' || line[k - 1] == '\r'))
                line[--k] = 0;
            n = k;
        }
    }
    cb_status_t st = CB_MPI(MPI_Bcast(&n, 1, MPI_LONG_LONG, 0, MPI_COMM_WORLD));
    if (st != CB_OK || n < 0 || n > (1 << 30)) {
        free(line);
        *line_p = NULL;
        return st;
    }
    if (cb_rank() != 0 && !(line = malloc((size_t)n + 1)))
        cb_abort(CB_ERR_NOMEM);
    if ((st = CB_MPI(MPI_Bcast(line, (int)n + 1, MPI_CHAR, 0, MPI_COMM_WORLD))) != CB_OK) {
        free(line);
        return st;
    }
    *line_p = line;
    return CB_OK;
}

/* One user turn as token ids on every rank: rank 0 writes the form's text
 * and tokenizes it, the ids are broadcast. Collective over MPI_COMM_WORLD;
 * fails (on every rank) when a token lies beyond the model's vocabulary. */
static cb_status_t chat_turn_ids(const llm_tok_t *tok, int form, int first, const char *system, const char *line,
                                 int vocab, llm_ids_t *ids, int *n_p)
{
    int n = 0;
    ids->n = 0;
    if (cb_rank() == 0) {
        int bos = llm_tok_bos(tok);
        char date[32];
        size_t tn;
        const char *tmpl = llm_tok_chat_template(tok, &tn);
        llm_chat_date(tmpl, tn, time(NULL), date, sizeof date);
        char *text = llm_chat_turn(form, first, bos >= 0 ? llm_tok_text(tok, bos) : NULL, system, date, line);
        if (!text || llm_tok_encode(tok, text, strlen(text), 0, 1, ids) != CB_OK)
            cb_abort(CB_ERR_NOMEM); /* the other ranks wait in the broadcast */
        free(text);
        n = ids->n;
        for (int i = 0; i < ids->n; i++)
            if (ids->v[i] >= vocab)
                n = -1;
    }
    cb_status_t st = CB_MPI(MPI_Bcast(&n, 1, MPI_INT, 0, MPI_COMM_WORLD));
    if (st != CB_OK)
        return st;
    if (n < 0) {
        cb_error("the turn holds a token beyond the model's vocabulary of %d", vocab);
        return CB_ERR_INPUT;
    }
    while (ids->cap < n)
        if (llm_ids_push(ids, 0) != CB_OK)
            cb_abort(CB_ERR_NOMEM);
    *n_p = n;
    return CB_MPI(MPI_Bcast(ids->v, n, MPI_INT, 0, MPI_COMM_WORLD));
}

/* The model's reply after the turn fed up to *pos_p: streamed by rank 0,
 * each token shown fed back (so the KV cache holds it), until an
 * end-of-generation token, n_predict tokens or the end of the context.
 * Collective over MPI_COMM_WORLD; a failure inside aborts. */
static void chat_reply(llm_run_t *run, const llm_tok_t *tok, llm_sampler_t *sampler, float *logits, int *idx, int vocab,
                       int n_predict, int show, int *pos_p)
{
    llm_utf8_stream_t us = { { 0 }, 0 };
    const int ctx = llm_run_ctx(run);
    cb_status_t st = CB_OK;
    for (int i = 0; i < n_predict && *pos_p < ctx; i++) {
        int next = 0;
        if (sampler->temperature <= 0) {
            st = llm_argmax(run, &next);
        } else {
            st = llm_logits_gather(run, logits);
            if (st == CB_OK && cb_rank() == 0)
                next = llm_sample(sampler, logits, vocab, idx);
            if (st == CB_OK)
                st = CB_MPI(MPI_Bcast(&next, 1, MPI_INT, 0, MPI_COMM_WORLD));
        }
        if (st != CB_OK)
            cb_abort(st);
        if (llm_tok_is_eog(tok, next))
            break;
        if (cb_rank() == 0) {
            emit_token(tok, &us, next, 0);
            if (show)
                fprintf(stderr, " %d", next);
        }
        if ((st = llm_forward(run, &next, 1, *pos_p)) != CB_OK)
            cb_abort(st);
        (*pos_p)++;
    }
    if (cb_rank() == 0) {
        char tail[8];
        fwrite(tail, 1, llm_utf8_stream(&us, NULL, 0, tail), stdout);
        putchar('\n');
        fflush(stdout);
        if (show)
            fprintf(stderr, "\n");
    }
}

cb_status_t llm_cmd_chat(int argc, char **argv)
{
    llm_model_opts_t mo = LLM_MODEL_OPTS_DEFAULT;
    const char *system = NULL;
    int n_predict = 512, form = -1, show = 0;
    double temp = 0.0, top_p = 1.0;
    long long seed = 1;
    static const char *const forms[] = { "chatml", "qwen3", "llama3", "deepseek-v3", "llama3.1", NULL };
    cb_opt_t opts[] = {
        LLM_MODEL_OPTS(mo),
        { "system", 0, CB_OPT_STRING, &system, "TEXT", "system prompt", 0, -1, NULL },
        { "template", 0, CB_OPT_CHOICE, &form, "FORM", "chat form to use instead of the file's template", 0, -1, forms },
        { "n-predict", 'n', CB_OPT_INT, &n_predict, "N", "tokens per reply at most", 1, 1 << 20, NULL },
        { "temp", 0, CB_OPT_DOUBLE, &temp, "T", "temperature (0: greedy)", 0, 100, NULL },
        { "top-p", 0, CB_OPT_DOUBLE, &top_p, "P", "nucleus sampling mass (1: off)", 0, 1, NULL },
        { "seed", 's', CB_OPT_INT64, &seed, "N", "sampling seed", 0, 9e18, NULL },
        { "show-tokens", 0, CB_OPT_FLAG, &show, NULL, "print on stderr the ids fed and generated at each turn", 0, -1, NULL },
        { 0 },
    };
    cb_cli_t cli = { "llm chat", "-m FILE [options]",
                     "An interactive conversation in the model's chat template (Qwen3, Llama 3, Llama 3.1-3.3,\n"
                     "DeepSeek V3 and ChatML are built in): rank 0 reads a message per line from stdin, the reply streams to\n"
                     "stdout; the KV cache is kept between turns. End with end of input or a line /exit.",
                     opts, "example: mpirun -np 2 llm chat -m qwen3.gguf --system \"You are terse.\"" };
    cb_common_opts_t common = { 0 };
    int first = 0;
    llm_desc_t desc;
    llm_weights_t *w = NULL;
    llm_comm_t *comm = NULL;
    llm_run_t *run = NULL;
    llm_tok_t *tok = NULL;
    llm_ids_t ids = { 0 };
    float *logits = NULL;
    int *idx = NULL;
    char *line = NULL;

    cb_status_t st = cb_options_parse(&cli, argc, argv, &common, &first);
    if (st == CB_OK && first < argc) {
        cb_error("unexpected argument '%s'", argv[first]);
        st = CB_ERR_USAGE;
    }
    if (st == CB_OK && !mo.model) {
        cb_error("a model file is needed (-m FILE)");
        st = CB_ERR_USAGE;
    }
    if ((st = cb_agree(st, MPI_COMM_WORLD)) != CB_OK)
        return st;
    /* The tokenizer and the form first: a file that cannot chat is refused
     * before its weights are read. */
    if ((st = llm_model_describe(&mo, &desc)) == CB_OK) {
        st = text_tokenizer(&desc, 1, &tok);
        if (st == CB_OK && form < 0)
            st = chat_form(tok, desc.source, &form);
        llm_desc_free(&desc);
    }
    if ((st = cb_agree(st, MPI_COMM_WORLD)) != CB_OK)
        goto cleanup;
    if ((st = llm_model_setup(&mo, 512, &desc, &w, &comm, &run)) != CB_OK)
        goto cleanup;
    const int vocab = desc.cfg.vocab, ctx = llm_run_ctx(run);
    if (cb_rank() == 0) {
        logits = cb_alloc(sizeof(float) * (size_t)vocab, 0, "logits");
        idx = cb_alloc(sizeof(int) * (size_t)vocab, 0, "sampler index");
        if (!logits || !idx)
            st = CB_ERR_NOMEM;
    }
    if ((st = cb_agree(st, MPI_COMM_WORLD)) != CB_OK)
        goto cleanup_model;
    if (cb_rank() == 0 && !common.quiet)
        fprintf(stderr, "# chat with %s (%s form, context %d, %d ranks); end with /exit or end of input\n",
                desc.source, llm_chat_names[form], ctx, cb_nranks());

    llm_sampler_t sampler;
    llm_sampler_init(&sampler, (float)temp, (float)top_p, (uint64_t)seed);
    const int tty = isatty(0);
    int pos = 0, turn = 0;
    for (;;) {
        if (cb_rank() == 0 && tty) {
            fputs("> ", stdout);
            fflush(stdout);
        }
        free(line);
        if ((st = chat_read_line(&line)) != CB_OK)
            break;
        if (!line || !strcmp(line, "/exit") || !strcmp(line, "/quit"))
            break;
        if (!*line)
            continue;
        int n = 0;
        if ((st = chat_turn_ids(tok, form, turn == 0, system, line, vocab, &ids, &n)) != CB_OK)
            break;
        if (pos + n + 1 > ctx) {
            if (cb_rank() == 0)
                fprintf(stderr, "# the context is full (%d of %d positions, this message needs %d): the conversation ends (--ctx)\n",
                        pos, ctx, n);
            break;
        }
        if (show && cb_rank() == 0) {
            fprintf(stderr, "# turn %d: fed %d at position %d:", turn + 1, n, pos);
            for (int i = 0; i < n; i++)
                fprintf(stderr, " %d", ids.v[i]);
            fprintf(stderr, "\n");
        }
        if ((st = llm_forward(run, ids.v, n, pos)) != CB_OK)
            cb_abort(st);
        pos += n;
        if (show && cb_rank() == 0)
            fprintf(stderr, "# turn %d: replied:", turn + 1);
        chat_reply(run, tok, &sampler, logits, idx, vocab, n_predict, show, &pos);
        turn++;
    }
    st = cb_agree(st, MPI_COMM_WORLD);
cleanup_model:
    llm_run_free(run);
    llm_comm_free(comm);
    llm_weights_free(w);
    llm_desc_free(&desc);
cleanup:
    free(line);
    cb_free(idx);
    cb_free(logits);
    llm_ids_free(&ids);
    llm_tok_free(tok);
    return st;
}

/* ================================================================ inspect */

/* The experts a rank holds in layer l, as ranges: "0-15 32-47" (pieces of
 * split experts as "e[f0:f1]"), cut at the buffer's end. */
static void inspect_experts(const llm_shard_t *sh, int l, int full, char *buf, size_t len)
{
    const llm_expert_plan_t *ep = sh->ep;
    size_t o = 0;
    buf[0] = 0;
    for (int i = 0; i < ep->n_pieces[l] && o + 24 < len; i++) {
        const llm_expert_piece_t *p = &ep->pieces[l][i];
        int j = i;
        while (j + 1 < ep->n_pieces[l] && ep->pieces[l][j + 1].e == ep->pieces[l][j].e + 1 &&
               ep->pieces[l][j + 1].f0 == p->f0 && ep->pieces[l][j + 1].f1 == p->f1)
            j++;
        o += (size_t)snprintf(buf + o, len - o, "%s%d", o ? " " : "", p->e);
        if (j > i)
            o += (size_t)snprintf(buf + o, len - o, "-%d", ep->pieces[l][j].e);
        if (o < len && (p->f0 != 0 || p->f1 != full))
            o += (size_t)snprintf(buf + o, len - o, "[%d:%d]", p->f0, p->f1);
        i = j;
    }
    if (o + 24 >= len)
        snprintf(buf + len - 5, 5, " ...");
}

static void inspect_print(const llm_desc_t *d, const llm_split_t *sp, int kv_type, int ctx)
{
    const int np = sp->np;
    const llm_config_t *c = &d->cfg;
    char a[32], b[32];
    static const char *const formats[] = { "GGUF", "llama2.c", "synthetic" };
    printf("# model: %s (%s", d->source, formats[d->format]);
    if (d->format == LLM_FMT_GGUF)
        printf(" v%d", d->version);
    printf(", %s)\n", cb_format_size((size_t)d->file_size, a, sizeof a));
    printf("# architecture %s: dim %d, ffn %d, layers %d, heads %d, kv heads %d, head_dim %d, vocab %d, ctx %d\n",
           llm_arch_names[c->arch], c->dim, c->hidden, c->n_layers, c->n_heads, c->n_kv_heads, c->head_dim,
           c->vocab, c->ctx);
    printf("# rope %s theta %g, rms eps %g%s%s%s\n", c->rope_neox ? "rotate-half" : "interleaved", c->rope_theta,
           c->norm_eps, c->qk_norm ? ", q/k norm" : "", c->qkv_bias ? ", qkv bias" : "", c->tied ? ", tied output" : "");
    char rs[160];
    printf("# rope scaling: %s\n", llm_rope_describe(c, rs, sizeof rs));
    if (c->mla.kv_lora)
        printf("# multi-head latent attention: q_lora %d%s, kv_lora %d, per head %d + %d rope query/key dims and %d value dims "
               "(%s); softmax scale %.6g\n"
               "# latent cache: %zu bytes per token = (kv_lora %d + rope %d) x %d layers x 4 (F32), the same on every rank\n",
               c->mla.q_lora, c->mla.q_lora ? "" : " (plain attn_q)", c->mla.kv_lora, c->mla.nope, c->mla.rope, c->mla.v_dim,
               c->mla.split_kvb ? "attn_k_b / attn_v_b" : "attn_kv_b, split at load", llm_rope_attn_scale(c, c->head_dim),
               llm_mla_cache_bytes_per_token(c), c->mla.kv_lora, c->mla.rope, c->n_layers);
    else
        printf("# KV cache: %zu bytes per token = 2 x %d KV heads x %d x %d layers in %s, split by KV heads\n",
               (size_t)2 * c->n_layers * llm_type_bytes(kv_type, (int64_t)c->n_kv_heads * c->head_dim), c->n_kv_heads,
               c->head_dim, c->n_layers, llm_type_name(kv_type));
    if (c->moe.n_experts)
        printf("# mixture of experts: %d experts of ffn %d, %d used per token (%s gate%s%s), %d shared (ffn %d), "
               "%d leading dense layers\n", c->moe.n_experts, c->moe.expert_ffn, c->moe.n_used,
               c->moe.gate == LLM_GATE_SIGMOID ? "sigmoid" : "softmax", c->moe.norm_topk ? ", renormalised" : "",
               c->moe.sel_bias ? ", selection bias" : "", c->moe.n_shared, c->moe.shared_ffn, c->moe.n_dense_lead);
    if (d->n_kv)
        printf("# metadata (%d keys)\n", d->n_kv);
    for (int i = 0; i < d->n_kv; i++) {
        const llm_kv_t *kv = &d->kv[i];
        switch (kv->kind) {
        case LLM_KV_INT: printf("  %-44s %lld\n", kv->key, (long long)kv->i); break;
        case LLM_KV_BOOL: printf("  %-44s %s\n", kv->key, kv->i ? "true" : "false"); break;
        case LLM_KV_FLOAT: printf("  %-44s %g\n", kv->key, kv->f); break;
        case LLM_KV_STRING: printf("  %-44s \"%.60s\"\n", kv->key, kv->s); break;
        default: printf("  %-44s [%llu values of type %d]\n", kv->key, (unsigned long long)kv->n, kv->gguf_type); break;
        }
    }
    uint64_t total = 0, params = 0, expert_params = 0;
    printf("# %-32s %-6s %-22s %10s\n", "tensor", "type", "shape", "bytes");
    for (int i = 0; i < d->n_tensors; i++) {
        const llm_tensor_t *t = &d->tensors[i];
        char shape[64];
        int o = snprintf(shape, sizeof shape, "%lld", (long long)t->ne[0]);
        for (int k = 1; k < t->n_dims && o < (int)sizeof shape; k++)
            o += snprintf(shape + o, sizeof shape - (size_t)o, " x %lld", (long long)t->ne[k]);
        printf("  %-32s %-6s %-22s %10llu\n", t->name, llm_type_name(t->type), shape, (unsigned long long)t->bytes);
        total += t->bytes;
        params += (uint64_t)(t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3]);
        if (c->moe.n_experts && strstr(t->name, "_exps."))
            expert_params += (uint64_t)(t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3]);
    }
    if (c->moe.n_experts)
        printf("# %.3f M parameters active per token (attention, router, %d of %d experts)\n",
               ((double)(params - expert_params) + (double)expert_params * c->moe.n_used / c->moe.n_experts) / 1e6,
               c->moe.n_used, c->moe.n_experts);
    printf("# %d tensors, %s of weights, %.3f M parameters\n", d->n_tensors, cb_format_size((size_t)total, a, sizeof a),
           (double)params / 1e6);
    printf("# per rank with %d ranks (%s split, ctx %d, batch 512, KV cache %s%s%s%s):\n", np, sp->layers ? "layer" : "tensor",
           ctx, llm_type_name(kv_type), sp->weight ? ", uneven shares" : "", c->moe.n_experts ? ", experts " : "",
           c->moe.n_experts ? llm_placement_names[sp->placement] : "");
    printf("# %4s %8s %8s %8s %8s %8s %12s %12s %12s%s\n", "rank", "layers", "heads", "kv", "ffn", "vocab", "weights", "KV cache",
           "total", c->moe.n_experts ? "  experts (pieces in the rank's layers; first MoE layer's)" : "");
    for (int r = 0; r < np; r++) {
        llm_shard_t sh;
        if (llm_shard_plan_split(d, r, sp, &sh) != CB_OK) {
            printf("  cannot split over %d ranks: %s\n", np, cb_error_message() ? cb_error_message() : "");
            cb_error_clear();
            return;
        }
        size_t wb = llm_shard_weight_bytes(d, &sh);
        size_t rb = llm_shard_run_bytes_kv(c, &sh, ctx, 512, kv_type), kb = llm_shard_kv_bytes(c, &sh, ctx, kv_type);
        char ka[32];
        char ls[24], hs[24], ks[24], fs[24], vs[24];
        snprintf(ls, sizeof ls, "%d-%d", sh.l0, sh.l1 - 1);
        snprintf(hs, sizeof hs, "%d-%d", sh.h0, sh.h1 - 1);
        snprintf(ks, sizeof ks, "%d-%d", sh.kv0, sh.kv1 - 1);
        snprintf(fs, sizeof fs, "%d", c->moe.n_experts ? sh.s1 - sh.s0 : sh.f1 - sh.f0);
        snprintf(vs, sizeof vs, "%d", sh.v1 - sh.v0);
        printf("  %4d %8s %8s %8s %8s %8s %12s %12s %12s", r, ls, hs, ks, fs, vs, cb_format_size(wb, a, sizeof a),
               cb_format_size(kb, ka, sizeof ka), cb_format_size(wb + rb, b, sizeof b));
        if (sh.ep) {
            char ex[160];
            int pieces = 0, l0 = c->moe.n_dense_lead > sh.l0 ? c->moe.n_dense_lead : sh.l0;
            for (int l = sh.l0; l < sh.l1; l++)
                pieces += sh.ep->n_pieces[l];
            if (l0 < sh.l1)
                inspect_experts(&sh, l0, c->moe.expert_ffn, ex, sizeof ex);
            else
                snprintf(ex, sizeof ex, "(no MoE layer)");
            printf("  %d: %s", pieces, ex);
        }
        printf("\n");
        llm_shard_free(&sh);
    }
    unsigned long long avail = cb_mem_available_bytes();
    if (avail)
        printf("# this host has %s available\n", cb_format_size((size_t)avail, a, sizeof a));
}

/* The largest rank's bytes (weights and run state at ctx, batch 512) when
 * desc is split evenly over np ranks; 0 when it cannot be. */
static size_t inspect_rank_need(const llm_desc_t *d, int np, int ctx)
{
    size_t worst = 0;
    for (int r = 0; r < np; r++) {
        llm_shard_t sh;
        if (llm_shard_plan(d, r, np, &sh) != CB_OK) {
            cb_error_clear();
            return 0;
        }
        size_t need = llm_shard_weight_bytes(d, &sh) + llm_shard_run_bytes(&d->cfg, &sh, ctx, 512);
        llm_shard_free(&sh);
        worst = need > worst ? need : worst;
    }
    return worst;
}

/* How many hosts of host_bytes, a rank each, the model needs in each weight
 * type: every type for a synthetic shape, the file's own for a file. */
static void inspect_hosts(const llm_model_opts_t *mo, const llm_desc_t *file, size_t host_bytes)
{
    char a[32], b[32], c0[32];
    printf("# hosts of %s needed (a rank each, even split, ctx %d, batch 512):\n",
           cb_format_size(host_bytes, a, sizeof a), file->cfg.ctx < 4096 ? file->cfg.ctx : 4096);
    printf("# %-6s %12s %7s %14s\n", "type", "weights", "hosts", "per host");
    for (int i = 0; llm_type_choices[i]; i++) {
        llm_desc_t d;
        const llm_desc_t *dp = file;
        if (file->format == LLM_FMT_SYNTHETIC) {
            if (llm_shape_desc(mo->shape, llm_type_choice_ids[i], mo->layers, (uint64_t)mo->seed, &d) != CB_OK) {
                printf("  %-6s %s\n", llm_type_choices[i], cb_error_message() ? cb_error_message() : "not possible");
                cb_error_clear();
                continue;
            }
            dp = &d;
        } else if (i > 0) {
            break;
        }
        uint64_t total = 0;
        for (int t = 0; t < dp->n_tensors; t++)
            total += dp->tensors[t].bytes;
        const int ctx = dp->cfg.ctx < 4096 ? dp->cfg.ctx : 4096;
        int hosts = 0;
        size_t need = 0;
        for (int np = 1; np <= dp->cfg.n_heads && !hosts; np++) {
            need = inspect_rank_need(dp, np, ctx);
            if (need > 0 && need <= host_bytes)
                hosts = np;
        }
        const char *tn = file->format == LLM_FMT_SYNTHETIC ? llm_type_choices[i] : "file";
        if (hosts)
            printf("  %-6s %12s %7d %14s\n", tn, cb_format_size((size_t)total, b, sizeof b), hosts,
                   cb_format_size(need, c0, sizeof c0));
        else
            printf("  %-6s %12s %7s %14s\n", tn, cb_format_size((size_t)total, b, sizeof b), "none",
                   "(more than one per head)");
        if (dp != file)
            llm_desc_free(&d);
    }
}

cb_status_t llm_cmd_inspect(int argc, char **argv)
{
    llm_model_opts_t mo = LLM_MODEL_OPTS_DEFAULT;
    int np = 0;
    size_t hosts_memory = 0;
    cb_opt_t opts[] = {
        LLM_MODEL_OPTS(mo),
        { "np", 0, CB_OPT_INT, &np, "N", "ranks to plan the split for (0: this run's)", 0, 1 << 16, NULL },
        { "hosts-memory", 0, CB_OPT_SIZE, &hosts_memory, "SIZE",
          "also say how many hosts of SIZE memory (512G, ...) the model needs in each weight type", 0, -1, NULL },
        { 0 },
    };
    cb_cli_t cli = { "llm inspect", "(-m FILE | --shape NAME) [--np N] [--hosts-memory SIZE]",
                     "Print a model's metadata, tensors and the memory each rank needs.", opts, NULL };
    cb_common_opts_t common = { 0 };
    int first = 0;
    llm_desc_t desc;
    cb_status_t st = cb_options_parse(&cli, argc, argv, &common, &first);
    if (st == CB_OK && first < argc) {
        cb_error("unexpected argument '%s'", argv[first]);
        st = CB_ERR_USAGE;
    }
    if ((st = cb_agree(st, MPI_COMM_WORLD)) != CB_OK)
        return st;
    st = llm_model_describe(&mo, &desc);
    if ((st = cb_agree(st, MPI_COMM_WORLD)) != CB_OK)
        return st;
    llm_split_t sp;
    st = llm_model_split(&mo, &desc, np > 0 ? np : cb_nranks(), 1, &sp);
    if ((st = cb_agree(st, MPI_COMM_WORLD)) == CB_OK) {
        if (cb_rank() == 0) {
            inspect_print(&desc, &sp, llm_kv_type_ids[mo.kv_type],
                          mo.ctx > 0 ? mo.ctx : (desc.cfg.ctx < 4096 ? desc.cfg.ctx : 4096));
            if (hosts_memory)
                inspect_hosts(&mo, &desc, hosts_memory);
        }
        llm_model_split_free(&sp);
    }
    llm_desc_free(&desc);
    return st;
}

/* ================================================================ main */

static void usage(FILE *f)
{
    fprintf(f, "usage: llm COMMAND [options]   (llm COMMAND --help for its options)\n"
               "  bench      prompt processing and generation speed, llama-bench style (pp512, tg128)\n"
               "  chat       a conversation in the model's chat template\n"
               "  generate   greedy or sampled generation from a text or token ids\n"
               "  inspect    a model's metadata, tensors and memory per rank\n"
               "  tokenize   the token ids of a text\n"
               "Models: GGUF (llama, qwen2, qwen3, qwen3moe, deepseek2; F32 F16 BF16 Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q2_K..Q6_K), llama2.c checkpoints,\n"
               "or synthetic --shape presets (llm generate --list-shapes).\n");
}

/* The kernels run on the rank's own thread team (llm_team.c), which spins
 * or sleeps by its --wait policy; OpenMP is left only the loops outside the
 * kernels, and its idle threads must not spin on the cores the team needs
 * (libgomp spins for milliseconds after each region by default, and a run
 * collapsed under load until OMP_WAIT_POLICY=passive). libgomp reads the
 * policy only as it loads, so set it and run this program again, once,
 * before MPI starts; an explicit OMP_WAIT_POLICY is left alone. */
static void wait_policy(char **argv)
{
    if (getenv("OMP_WAIT_POLICY") || getenv("LLM_WAIT_POLICY_SET"))
        return;
    /* exec the program's own path, not /proc/self/exe: the process's name
     * (comm, what ps and pgrep show) is taken from the path exec'd */
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0 || n >= (ssize_t)sizeof self - 1)
        return;
    self[n] = '\0';
    setenv("OMP_WAIT_POLICY", "passive", 1);
    setenv("LLM_WAIT_POLICY_SET", "1", 1);
    execv(self, argv); /* on failure, carry on as we are */
    unsetenv("OMP_WAIT_POLICY");
    unsetenv("LLM_WAIT_POLICY_SET");
}

int main(int argc, char **argv)
{
    wait_policy(argv);
    cb_status_t st = cb_mpi_init(&argc, &argv, "llm");
    if (st != CB_OK)
        return cb_status_exit_code(st);
    if (argc >= 2 && !strcmp(argv[1], "generate"))
        return cb_mpi_finalize(llm_cmd_generate(argc - 1, argv + 1));
    if (argc >= 2 && !strcmp(argv[1], "chat"))
        return cb_mpi_finalize(llm_cmd_chat(argc - 1, argv + 1));
    if (argc >= 2 && !strcmp(argv[1], "tokenize"))
        return cb_mpi_finalize(llm_cmd_tokenize(argc - 1, argv + 1));
    if (argc >= 2 && !strcmp(argv[1], "inspect"))
        return cb_mpi_finalize(llm_cmd_inspect(argc - 1, argv + 1));
    if (argc >= 2 && !strcmp(argv[1], "bench"))
        return cb_mpi_finalize(llm_cmd_bench(argc - 1, argv + 1));
    /* The subcommands agree on their own outcome; what is left is decided here. */
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        if (cb_rank() == 0)
            usage(argc < 2 ? stderr : stdout);
        st = CB_DONE;
        if (argc < 2) {
            cb_error("a command is needed: bench, chat, generate, inspect or tokenize");
            st = CB_ERR_USAGE;
        }
    } else if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version")) {
        if (cb_rank() == 0)
            printf("llm (clusterbench) %s\n", CB_VERSION);
        st = CB_DONE;
    } else {
        cb_error("unknown command '%s' (bench, chat, generate, inspect, tokenize)", argv[1]);
        st = CB_ERR_USAGE;
    }
    st = cb_agree(st, MPI_COMM_WORLD);
    return cb_mpi_finalize(st);
}
