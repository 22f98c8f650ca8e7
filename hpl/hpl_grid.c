/* The P x Q process grid: which rank is which (row, column), and the row and
 * column communicators the panel broadcast and the pivoting run over. */
#include "hpl.h"

cb_status_t hpl_grid_init(MPI_Comm world, int p, int q, hpl_pmap_t pmap, hpl_grid_t *grid)
{
    int rank, size;
    cb_status_t st;

    grid->all = grid->row = grid->col = MPI_COMM_NULL;
    grid->p = p;
    grid->q = q;
    grid->pmap = pmap;
    MPI_Comm_rank(world, &rank);
    MPI_Comm_size(world, &size);
    if ((int64_t)p * q > size) {
        cb_error("grid %d x %d needs %d ranks, the run has %d", p, q, p * q, size);
        return CB_ERR_USAGE;
    }
    int in_grid = rank < p * q;
    st = CB_MPI(MPI_Comm_split(world, in_grid ? 0 : MPI_UNDEFINED, rank, &grid->all));
    if (st != CB_OK) return st;
    if (!in_grid) {
        grid->iam = -1;
        grid->myrow = grid->mycol = -1;
        return CB_OK;
    }
    grid->iam = rank;
    if (pmap == HPL_PMAP_ROW) {
        grid->myrow = rank / q;
        grid->mycol = rank % q;
    } else {
        grid->myrow = rank % p;
        grid->mycol = rank / p;
    }
    st = CB_MPI(MPI_Comm_split(grid->all, grid->myrow, grid->mycol, &grid->row));
    if (st == CB_OK) st = CB_MPI(MPI_Comm_split(grid->all, grid->mycol, grid->myrow, &grid->col));
    if (st != CB_OK) hpl_grid_free(grid);
    return st;
}

void hpl_grid_free(hpl_grid_t *grid)
{
    if (grid->col != MPI_COMM_NULL) MPI_Comm_free(&grid->col);
    if (grid->row != MPI_COMM_NULL) MPI_Comm_free(&grid->row);
    if (grid->all != MPI_COMM_NULL) MPI_Comm_free(&grid->all);
}
