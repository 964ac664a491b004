// The `mmaux` executable: every subcommand lives in the CLI library.
#include "mmaux/cli/main.h"

int main(int argc, char** argv) { return mmaux::cli::main_entry(argc, argv); }
