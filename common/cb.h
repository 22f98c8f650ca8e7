/* clusterbench common layer: include this one header. */
#ifndef CB_H
#define CB_H
#include "cb_status.h"
#include "cb_mpi.h"
#include "cb_mem.h"
#include "cb_options.h"
#include "cb_stats.h"
#include "cb_provenance.h"
#include "cb_results.h"
#include "cb_signal.h"
#include "cb_ucoll.h"
#include "cb_rd.h"
#include "cb_version.h"
#endif
