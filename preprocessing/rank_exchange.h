#pragma once
// `mmaux preprocess` under mpirun or srun: the pipeline's PreprocessRanks over the job's
// communicator. Separate from the readers so that they keep linking the data library only.
#include <memory>

#include "mmaux/data/preprocess.h"
#include "mmaux/dist/communicator.h"

namespace mmaux::preprocessing {

/// The ranks of `comm` (a CPU communicator: local, threads or mpi) as PreprocessRanks. The
/// all_gather is one all_gather_varsize of int64 words: a byte count, then the bytes. Collective
/// like every call on `comm`; a rank that fails ends the job (MPI_Abort), one that never comes
/// fails the others after the communicator's timeout.
std::unique_ptr<data::PreprocessRanks> make_preprocess_ranks(
    std::shared_ptr<dist::Communicator> comm);

}  // namespace mmaux::preprocessing
