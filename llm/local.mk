# llm/: the tensor-parallel transformer (see ../shared/DESIGN.md).
bin_PROGRAMS += llm/llm
LLM_SOURCES = llm/llm.h llm/llm_quant.c llm/llm_kernels.c llm/llm_gguf.c llm/llm_l2c.c \
  llm/llm_desc.c llm/llm_shape.c llm/llm_shard.c llm/llm_comm.c llm/llm_forward.c \
  llm/llm_sample.c llm/llm_model.c llm/llm_bench.c
llm_llm_SOURCES = $(LLM_SOURCES) llm/llm_main.c
llm_llm_CPPFLAGS = $(AM_CPPFLAGS) $(BLAS_CFLAGS)
llm_llm_CFLAGS = $(AM_CFLAGS) $(OPENMP_CFLAGS)
llm_llm_LDFLAGS = $(OPENMP_CFLAGS)
llm_llm_LDADD = $(CB_LIBS)
