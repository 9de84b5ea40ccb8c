// containerd-shim-kata-sentry-v2: all behaviour lives in ks_shim (shim_main.cpp).
#include "runtime/shim/shim_main.h"

int main(int argc, char** argv) { return kata_sentry::shim::shim_main(argc, argv); }
