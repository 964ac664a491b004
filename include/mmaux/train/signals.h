#pragma once
/// Stop requests by signal. SIGTERM and SIGUSR1 (Slurm's preemption warning, a job script's
/// forward) set a flag; the trainer reads it once per step and all ranks agree (all-reduce MAX)
/// to checkpoint after the same step and exit with kExitRequeue.

namespace mmaux::train {

/// Installs the handlers (idempotent). Not collective.
void install_stop_handlers();
/// The signal number received (0 when none).
int stop_signal();
/// Clears the flag (tests).
void clear_stop_signal();

}  // namespace mmaux::train
